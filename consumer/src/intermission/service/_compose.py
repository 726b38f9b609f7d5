"""Building a worker from settings: Kafka and S3 in production, in-process pieces for the demo."""

from __future__ import annotations

import importlib
import logging

from .._app import Intermission
from ._ports import Publisher, SnapshotStore
from ._runs import Runs, Topics
from ._sealing import Sealer
from ._settings import Settings, SettingsError
from ._worker import Worker

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


def topics_of(settings: Settings) -> Topics:
    return Topics(
        requests=settings.topic_requests,
        approvals=settings.topic_approvals,
        resumes=settings.topic_resumes,
        results=settings.topic_results,
        dead_letter=settings.topic_dead_letter,
    )


def build_worker(
    settings: Settings, *, store: SnapshotStore, publisher: Publisher, ai: Intermission | None = None
) -> Worker:
    secret = settings.snapshot_key.get_secret_value().encode() if settings.snapshot_key else None
    runs = Runs(
        ai=ai or load_app(settings.app),
        store=store,
        publisher=publisher,
        topics=topics_of(settings),
        sealer=Sealer(secret),
    )
    return Worker(
        runs,
        max_in_flight=settings.max_in_flight,
        max_record_bytes=settings.max_record_bytes,
        sweep_interval=settings.expiry_sweep_seconds,
    )
