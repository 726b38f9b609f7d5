"""A claim's lease: the owner of a ``resuming`` pause renews it while it works.

Another worker holding the same pause (a redelivered record after a rebalance) waits while the
lease is live, since the owner may still be running the tools, and takes the pause over only
once the lease has lapsed. An owner whose renewal finds the pause changed has lost it: its work
is cancelled, and the new owner finishes the step from the journal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, TypeVar

from intermission_schemas import Claim

from ...errors import UnavailableError
from ..ports import PreconditionFailed
from .lifecycle import Lost, Pause, Renewal, Write, decide, new_claim
from .snapshots import Loaded, Snapshots

__all__ = ["ClaimLost", "ClaimWatch", "Lease", "Sleep", "new_claim", "snapshot_lease", "wait_interval"]

log = logging.getLogger("intermission.worker")

T = TypeVar("T")

# Waits on the clock the worker was given: asyncio.sleep in production, a test's clock in tests,
# so a lease is renewed on the same time its expiry is measured on.
Sleep = Callable[[float], Awaitable[None]]


class ClaimWatch:
    """How long this worker has seen each claim it waits on unchanged, in elapsed time.

    A lease is measured here, never by comparing another machine's ``lease_until`` with this
    one's clock: a live owner renews, which changes the claim and starts the count again; a dead
    one does not, and once a whole lease has passed here the claim may be taken over. Elapsed
    time (``elapsed``: a monotonic clock in seconds, or a test's) is not moved by a wall-clock
    step, so an NTP correction during a wait neither shortens nor stretches it."""

    def __init__(self, elapsed: Callable[[], float]) -> None:
        self._elapsed = elapsed
        self._seen: dict[object, tuple[Claim, float]] = {}

    def seen_for(self, where: object, claim: Claim | None) -> timedelta:
        now = self._elapsed()
        if claim is None:
            self._seen.pop(where, None)
            return timedelta(0)
        seen = self._seen.get(where)
        if seen is None or seen[0] != claim:
            self._seen[where] = (claim, now)
            return timedelta(0)
        return timedelta(seconds=now - seen[1])

    def forget(self, where: object) -> None:
        self._seen.pop(where, None)


def wait_interval(remaining: timedelta, lease: timedelta) -> float:
    """Seconds until a waiting worker looks at a claim again: often enough to see renewals."""
    return max(0.05, min(remaining.total_seconds(), lease.total_seconds() / 4, 2.0))


class ClaimLost(Exception):
    """Another worker took the pause over while this one worked on it."""


class Lease:
    """Renews a claim every third of its duration while ``hold`` runs the work.

    ``renew`` writes the claim again with a later lease (a conditional replace) and raises
    PreconditionFailed when the claim is no longer this worker's.
    """

    def __init__(
        self, renew: Callable[[], Awaitable[None]], *, duration: timedelta, sleep: Sleep = asyncio.sleep
    ) -> None:
        self._renew_claim = renew
        self.duration = duration
        self._sleep = sleep
        self._lost = False

    async def hold(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` while renewing the lease; ClaimLost if the claim was taken over."""
        task = asyncio.ensure_future(work)
        renewer = asyncio.create_task(self._renew(task))
        try:
            return await task
        except asyncio.CancelledError:
            if self._lost:
                raise ClaimLost from None
            raise
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)

    async def _renew(self, task: asyncio.Future[Any]) -> None:
        interval = self.duration.total_seconds() / 3
        while not task.done():
            await self._sleep(interval)
            try:
                await self._renew_claim()
            except PreconditionFailed:
                log.warning("a claim was taken over; stopping this worker's attempt")
                self._lost = True
                task.cancel()
                return
            except UnavailableError as exc:
                # The store is down: keep working and keep trying; if the lease lapses first,
                # another worker may take over, and the journal keeps finished work finished.
                log.debug("lease renewal failed, retrying: %s", exc)


def snapshot_lease(
    snapshots: Snapshots,
    claimed: Loaded,
    *,
    owner: str,
    duration: timedelta,
    clock: Callable[[], datetime],
    sleep: Sleep = asyncio.sleep,
) -> tuple[Lease, Callable[[], Loaded]]:
    """A lease on a claimed pause, and a way to read the pause as last written (its etag)."""
    current = [claimed]

    async def renew() -> None:
        loaded = current[0]
        decision = decide(
            Pause(snapshot=loaded.snapshot), Renewal(), now=clock(), owner=owner, lease=duration
        )
        match decision:
            case Write(snapshot=renewed):
                current[0] = await snapshots.replace(loaded, renewed)
            case Lost():
                raise PreconditionFailed(f"{loaded.snapshot.run_id}: the claim is not {owner!r}'s")
            case _:
                raise AssertionError(f"a renewal decided {decision!r}")

    return Lease(renew, duration=duration, sleep=sleep), lambda: current[0]
