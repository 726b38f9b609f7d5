"""A clock that stands still until a test (or a bench) moves it: sweeps and leases see the time
the caller sets, not the wall clock. ``sleep`` waits on it too (a worker's timers all do, through
`injected`): a timer fires when the test moves the clock past it, never by itself.

With ``auto=True`` a sleep moves the clock itself instead (virtual time): ``await sleep(d)``
moves ``now`` and ``elapsed`` by ``d``, wakes any sleeper whose time came, and yields once. A
worker waiting out a 30 s lease on it sees the whole lease pass in a few event-loop turns."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from intermission.service.clock import Clock as TimeSource

__all__ = ["Clock"]


class Clock:
    def __init__(self, *, auto: bool = False) -> None:
        self._now = self._start = datetime.now(UTC)
        self.auto = auto
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []
        self._slept = asyncio.Event()

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

    def injected(self) -> TimeSource:
        """This clock as a worker's time source: its now, elapsed and sleep together."""
        return TimeSource(now=self, elapsed=self.elapsed, sleep=self.sleep)

    async def sleep(self, seconds: float) -> None:
        if self.auto or seconds <= 0:
            self.now = self._now + timedelta(seconds=max(0.0, seconds))
            await asyncio.sleep(0)
            return
        entry = (self._now + timedelta(seconds=seconds), asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        self._slept.set()
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)

    async def sleeping(self, within: float = 10.0) -> None:
        """Until someone waits on this (manual) clock: moving it now wakes that timer."""
        async with asyncio.timeout(within):
            while not any(not future.done() for _, future in self._sleepers):
                self._slept.clear()
                await self._slept.wait()
