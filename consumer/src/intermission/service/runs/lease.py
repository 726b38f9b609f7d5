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

import msgspec
from intermission_schemas import Claim

from ...errors import UnavailableError
from ..ports import PreconditionFailed
from .snapshots import Loaded, Snapshots

__all__ = ["ClaimLost", "Lease", "new_claim", "snapshot_lease"]

log = logging.getLogger("intermission.worker")

T = TypeVar("T")


class ClaimLost(Exception):
    """Another worker took the pause over while this one worked on it."""


class Lease:
    """Renews a claim every third of its duration while ``hold`` runs the work.

    ``renew`` writes the claim again with a later lease (a conditional replace) and raises
    PreconditionFailed when the claim is no longer this worker's.
    """

    def __init__(self, renew: Callable[[], Awaitable[None]], *, duration: timedelta) -> None:
        self._renew_claim = renew
        self.duration = duration
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
            await asyncio.sleep(interval)
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
    snapshots: Snapshots, claimed: Loaded, *, duration: timedelta, clock: Callable[[], datetime]
) -> tuple[Lease, Callable[[], Loaded]]:
    """A lease on a claimed pause, and a way to read the pause as last written (its etag)."""
    current = [claimed]

    async def renew() -> None:
        snapshot = current[0].snapshot
        if snapshot.claim is None:
            return
        claim = msgspec.structs.replace(snapshot.claim, lease_until=clock() + duration)
        current[0] = await snapshots.replace(current[0], msgspec.structs.replace(snapshot, claim=claim))

    return Lease(renew, duration=duration), lambda: current[0]


def new_claim(owner: str, now: datetime, duration: timedelta, takeovers: int = 0) -> Claim:
    return Claim(owner=owner, lease_until=now + duration, takeovers=takeovers)
