"""A clock that stands still until a test (or a bench) moves it: sweeps and leases see the time
the caller sets, not the wall clock. ``sleep`` waits on it too (pass it as a worker's ``sleep``):
a lease renewal timer fires when the test moves the clock past it, never by itself."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

__all__ = ["Clock"]


class Clock:
    def __init__(self) -> None:
        self._now = self._start = datetime.now(UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def __call__(self) -> datetime:
        return self._now

    @property
    def now(self) -> datetime:
        return self._now

    @now.setter
    def now(self, at: datetime) -> None:
        """Move the clock; every sleeper whose time has come wakes."""
        self._now = at
        for wake, future in self._sleepers:
            if wake <= at and not future.done():
                future.set_result(None)

    def elapsed(self) -> float:
        """Seconds since the clock was made, on its own time: a worker's monotonic clock."""
        return (self._now - self._start).total_seconds()

    async def sleep(self, seconds: float) -> None:
        wake = self._now + timedelta(seconds=seconds)
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        entry = (wake, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)
