"""What a worker checks on a timer, so that what it reports reflects the world even when no
record comes: the store, probed while the worker is idle, and the consumer lag.

A busy worker needs no probe: its records reach the store and report every failure and
success to ``Health``. An idle one would otherwise look ready through a whole outage.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ...errors import StoreUnavailableError, UnavailableError
from ..health import Health
from ..ports import SnapshotStore
from .events import ConsumerLag
from .observer import Observer
from .partitions import PartitionView

__all__ = ["PROBE_KEY", "probe_store", "watch"]

log = logging.getLogger("intermission.worker")

PROBE_KEY = "health/probe"  # never written: a GET of a missing key is the cheapest round trip


async def probe_store(store: SnapshotStore, health: Health, within: float) -> None:
    try:
        async with asyncio.timeout(within):
            await store.get(PROBE_KEY)
    except TimeoutError:
        health.failed(StoreUnavailableError(f"probe: no answer within {within:g} s"))
    except UnavailableError as exc:
        health.failed(exc)
    except Exception as exc:
        # Not an outage (a denied key, a bug): the store answered, so it is not marked down.
        log.warning("store probe failed: %s: %s", type(exc).__name__, exc)
    else:
        health.succeeded("store")


async def watch(
    *,
    store: SnapshotStore,
    health: Health,
    idle: Callable[[], bool],
    view: PartitionView | None,
    observer: Observer,
    interval: float,
) -> None:
    """Every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        if idle():
            await probe_store(store, health, within=max(interval, 1.0))
        if view is not None:
            observer.observe(ConsumerLag(partitions=await view.lag()))
