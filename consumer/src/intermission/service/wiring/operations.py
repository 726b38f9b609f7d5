"""What a serving worker offers its operators besides its work: the health and metrics
endpoints, and the timer that keeps their answers current (store probe, consumer lag)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from ...errors import SettingsError
from ..observe.endpoints import Endpoints
from ..observe.liveness import Progress
from ..observe.metrics import CONTENT_TYPE, Metrics
from ..observe.partitions import partition_view
from ..observe.readiness import Readiness, readiness
from ..observe.watch import watch
from ..ports import SnapshotStore, Subscription
from ..worker import Worker
from .settings import Settings

__all__ = ["operated"]

log = logging.getLogger("intermission.worker")


@contextlib.asynccontextmanager
async def operated(
    settings: Settings,
    worker: Worker,
    *,
    store: SnapshotStore,
    subscription: Subscription,
    metrics: Metrics,
    progress: Progress | None = None,
) -> AsyncIterator[int | None]:
    """While inside: the endpoints on ``settings.health_port`` (none when it is 0) and the
    watch. Yields the port listened on, or None. ``progress`` (an observer of ``worker``) makes
    ``/healthz`` fail while the worker is stalled."""
    view = partition_view(subscription)
    watching = asyncio.create_task(
        watch(
            store=store,
            health=worker.health,
            idle=lambda: worker.idle,
            view=view,
            observer=metrics,
            interval=settings.health_probe_seconds,
        )
    )
    endpoints: Endpoints | None = None
    try:
        port: int | None = None
        if settings.health_port:

            async def ready_now() -> Readiness:
                return readiness(worker.health, view, stopping=worker.stopping)

            async def metrics_now() -> bytes:
                return metrics.exposition()

            endpoints = Endpoints(
                readiness=ready_now,
                metrics=metrics_now,
                metrics_content_type=CONTENT_TYPE,
                liveness=progress.stall if progress is not None else None,
            )
            try:
                port = await endpoints.start(settings.health_host, settings.health_port)
            except OSError as exc:
                where = f"{settings.health_host}:{settings.health_port}"
                raise SettingsError("INTERMISSION_HEALTH_PORT", f"cannot listen on {where}: {exc}") from exc
            log.info(
                "health and metrics on http://%s:%d (/healthz, /readyz, /metrics)", settings.health_host, port
            )
        yield port
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        if endpoints is not None:
            await endpoints.close()
