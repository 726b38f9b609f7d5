"""Claims on test clocks: a waiter whose looks the test paces, a store that notes when a
takeover happened on the taker's own time, and an owner that renews when the test says.

A waiting worker runs on an auto-advancing Clock: each wait between its looks moves its time by
that wait, so a production-sized lease passes in a few event-loop turns, never in real time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fakeclock import Clock
from intermission.service.ports import SnapshotStore, StoredObject
from storecount import CountingStore

__all__ = ["LEASE", "LOOKS_PER_RENEWAL", "PacedLooks", "TakeoverTimes", "owner_renews_while_waiter_looks"]

LEASE = timedelta(seconds=30)  # the production default: it passes on a test clock, not in real time
# A waiter looks every 2 s of its time (wait_interval's cap): ten looks are 18 s of one claim,
# well inside a lease, so only a claim left unrenewed for a whole lease is taken over.
LOOKS_PER_RENEWAL = 10


class PacedLooks(CountingStore):
    """A waiting worker reads ``key`` only when the test allows it: between two looks its own
    clock moves by one wait, so the test decides how much of the waiter's time passes."""

    def __init__(self, inner: SnapshotStore, key: str) -> None:
        super().__init__(inner)
        self.key = key
        self.arrived = self.allowed = 0
        self._changed = asyncio.Condition()

    async def get(self, key: str) -> StoredObject | None:
        if key == self.key:
            async with self._changed:
                self.arrived += 1
                self._changed.notify_all()
                await self._changed.wait_for(lambda: self.allowed >= self.arrived)
        return await super().get(key)

    async def allow(self, looks: int) -> None:
        """Let ``looks`` more looks through, then wait until the waiter asks for the next one."""
        async with asyncio.timeout(30), self._changed:
            self.allowed += looks
            self._changed.notify_all()
            await self._changed.wait_for(lambda: self.arrived > self.allowed)

    async def waiting(self) -> None:
        """Until the waiter asks for a look not yet allowed."""
        await self.allow(0)

    async def open(self) -> None:
        """Every look from now on goes through."""
        async with self._changed:
            self.allowed = 1 << 60
            self._changed.notify_all()


class TakeoverTimes(CountingStore):
    """Notes, on the taker's clock, its first look at ``key`` and its first write of it (the
    takeover: renewals and the step's own writes come after)."""

    def __init__(self, inner: SnapshotStore, key: str, clock: Clock) -> None:
        super().__init__(inner)
        self.key, self.clock = key, clock
        self.first_look: float | None = None
        self.taken_at: float | None = None

    async def get(self, key: str) -> StoredObject | None:
        if key == self.key and self.first_look is None:
            self.first_look = self.clock.elapsed()
        return await super().get(key)

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        if key == self.key and self.taken_at is None:
            self.taken_at = self.clock.elapsed()
        return await super().replace(key, data, etag)

    def waited(self) -> timedelta:
        """How long the taker saw the claim before it took the step over, on its own clock."""
        assert self.first_look is not None, "it never looked"
        assert self.taken_at is not None, "it never took over"
        return timedelta(seconds=self.taken_at - self.first_look)


async def owner_renews_while_waiter_looks(owner_clock: Clock, looks: PacedLooks, rounds: int = 3) -> None:
    """The owner renews ``rounds`` times (its clock moves half a lease each time, past its
    renewal timer), and between renewals the waiter looks LOOKS_PER_RENEWAL times on its own
    clock: over the rounds the waiter sees more than a whole lease pass, but never one claim
    unchanged for a lease."""
    for _ in range(rounds):
        await looks.allow(LOOKS_PER_RENEWAL)
        await owner_clock.sleeping()  # the owner's renewal timer is set
        owner_clock.now += LEASE / 2
        await owner_clock.sleeping()  # renewed (stored), and the next renewal timer set
