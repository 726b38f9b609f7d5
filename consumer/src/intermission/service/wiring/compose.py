"""Building a worker from settings: Kafka and S3 in production, in-process pieces for the demo."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from ..._app import Intermission
from ..._middleware import Middleware
from ..._model import Model
from ...errors import SettingsError
from ..clock import REAL_CLOCK, Clock
from ..observe.log_lines import LogLines
from ..observe.observer import NO_OBSERVER, Observer, Observers
from ..observe.timed_ports import TimedPublisher, TimedSnapshotStore
from ..ports import Publisher, SnapshotStore
from ..runs import Runs
from ..runs.sealing import Sealer
from ..worker import Worker
from .settings import Settings

log = logging.getLogger("intermission.worker")


def load_app(spec: str) -> Intermission:
    """The ``Intermission`` at ``module:attribute``."""
    module_name, _, attribute = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute or "ai")
    except (ImportError, AttributeError) as exc:
        raise SettingsError("INTERMISSION_APP", f"cannot load {spec!r}: {exc}") from exc
    if not isinstance(found, Intermission):
        raise SettingsError("INTERMISSION_APP", f"{spec!r} is a {type(found).__name__}, not an Intermission")
    return found


def named_model(ai: Intermission, name: str) -> Model:
    """The model the app registered under ``name``, or else a Gemini model of that name (the
    SDK is imported only then)."""
    registered: Model | None = ai.registered_model(name)
    if registered is None:
        from ..._gemini import GeminiModel

        registered = GeminiModel(name)
    return registered


def use_model(ai: Intermission, name: str) -> None:
    """Make ``name`` (`named_model`) the app's default model."""
    ai.model = named_model(ai, name)


def build_worker(
    settings: Settings,
    *,
    store: SnapshotStore,
    publisher: Publisher,
    ai: Intermission | None = None,
    clock: Clock | Callable[[], datetime] | None = None,
    observer: Observer = NO_OBSERVER,
    use: Sequence[Middleware] = (),
) -> Worker:
    """A worker on these seams, with the app of ``settings.app`` unless ``ai`` is given.

    Every worker writes the run lifecycle's log lines; ``observer`` (metrics) also sees every
    observation, the store's operations and the publishes timed. ``clock``: every timer's time
    (a `Clock`), or only the wall time (a function returning it); the real one by default."""
    app = ai or load_app(settings.app)
    if observer is not NO_OBSERVER:
        store, publisher = TimedSnapshotStore(store, observer), TimedPublisher(publisher, observer)
    observer = Observers(LogLines(), observer)
    if settings.model is not None:
        use_model(app, settings.model)
    runs = Runs(
        ai=app,
        store=store,
        publisher=publisher,
        topics=settings.topics,
        sealer=Sealer(settings.seal_secret(), compression=settings.snapshot_compression),
        clock=_time_source(clock),
        lease=timedelta(seconds=settings.claim_lease_seconds),
        run_index=settings.run_index,
        tokens=settings.resume_tokens(),
        answer_keys=settings.answer_key_set(),
        observer=observer,
        use=use,
    )
    return Worker(
        runs,
        max_in_flight=settings.max_in_flight,
        max_record_bytes=settings.max_record_bytes,
        sweep_interval=settings.expiry_sweep_seconds,
        shutdown_grace=settings.shutdown_grace_seconds,
        observer=observer,
        reply_topics=settings.reply_topic_patterns,
    )


def _time_source(clock: Clock | Callable[[], datetime] | None) -> Clock:
    """The one time source of a worker, built once here."""
    if clock is None:
        return REAL_CLOCK
    return clock if isinstance(clock, Clock) else Clock(now=clock)
