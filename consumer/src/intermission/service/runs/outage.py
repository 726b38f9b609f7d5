"""Writing through a store outage what only this worker holds.

A tool's output (and a model reply asking for tools) exists only in this worker's memory until
its journal entry is written. Giving up on that write, to retry the whole record later, would
run the tool again once the store is back, however long it was down. So such a write is retried
here, in place, until it lands: nothing else of the step happens meanwhile, and the tool is never
run again for it. Only infrastructure faults (UnavailableError) are retried, with a capped,
jittered backoff so that many workers do not return in step; anything else raises at once.

The claim's lease is not renewed while the store is down, but no other worker takes the step
over for the outage: a worker waiting on the claim fails its reads too, and its `ClaimWatch`
forgets the claim when that handling ends, so it waits a whole lease after the store is back,
while this write lands within ``MAX_DELAY_S``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from ...errors import UnavailableError
from ..observe.events import Dependency

__all__ = ["NO_REPORT", "OutageReport", "until_written"]

log = logging.getLogger("intermission.worker")

T = TypeVar("T")

FIRST_DELAY_S = 0.05
MAX_DELAY_S = 2.0  # the cap: a store that returns is written to within about this long


class OutageReport(Protocol):
    """Where an outage met here is told (the worker's ``Health``): a worker waiting in place is
    busy, so its idle probe is not what marks the store down for ``/readyz``."""

    def failed(self, error: UnavailableError) -> None: ...

    def succeeded(self, *names: Dependency) -> None: ...


class _Unreported:
    def failed(self, error: UnavailableError) -> None:
        pass

    def succeeded(self, *names: Dependency) -> None:
        pass


NO_REPORT: OutageReport = _Unreported()


async def until_written(
    write: Callable[[], Awaitable[T]],
    *,
    what: str,
    report: OutageReport = NO_REPORT,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``write()``, repeated while the store is unavailable."""
    failures = 0
    while True:
        try:
            written = await write()
        except UnavailableError as exc:
            report.failed(exc)
            failures += 1
            if failures == 1:
                log.warning("cannot write %s, keeping it and retrying until the store is back: %s", what, exc)
            delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2.0 ** min(failures - 1, 16))
            await sleep(delay * random.uniform(0.5, 1.0))
            continue
        if failures:
            report.succeeded("store")
        return written
