"""Pauses nobody answered in time: the sweep that finds them and the policy that ends them.

Every worker sweeps; each pause changes by conditional replace (or, for a pause one answer
settles, by creating its claim), so only one sweeper (or one late resume) acts on it.
``reject`` fails the run with code ``expired``; ``respond`` answers the open interrupts with the
policy's default output and the run continues.
"""

from __future__ import annotations

from intermission_schemas import RunFailed

from ..observe.events import InterruptResolved
from ..ports import PreconditionFailed
from .authority import one_answer_settles
from .lifecycle import Due, Pause, Write, decide
from .observed import EXPIRY_RESUME_ID, ended, resumed
from .snapshots import Loaded
from .steps import Steps

__all__ = ["Expiry"]


class Expiry:
    def __init__(self, steps: Steps) -> None:
        self.steps = steps

    async def sweep(self) -> int:
        """Apply the expiry policy to every pause whose deadline has passed; returns how many."""
        snapshots = self.steps.snapshots
        now = self.steps.clock()
        swept = 0
        for deadline in await snapshots.deadlines(due_by=now):
            loaded = await snapshots.load(deadline.run_id, deadline.version)
            snapshot = loaded.snapshot if loaded is not None else None
            if loaded is not None and snapshot is not None and snapshot.status == "pending":
                if snapshot.expires_at is not None and snapshot.expires_at <= now:
                    await self.expire(loaded)
                    swept += 1
                elif snapshot.expires_at != deadline.at:
                    await snapshots.drop_marker(deadline)  # a stray marker from a retried pause
            elif snapshot is None or snapshot.status != "resuming":
                await snapshots.drop_marker(deadline)
        return swept

    async def expire(self, loaded: Loaded) -> None:
        steps = self.steps
        snapshot = loaded.snapshot
        pause = Pause(snapshot=snapshot)
        decision = decide(pause, Due(), now=steps.clock(), owner=steps.owner, lease=steps.lease)
        if not isinstance(decision, Write):
            return  # answered, claimed or settled meanwhile
        try:
            if not loaded.claimed and one_answer_settles(snapshot):
                replaced = await steps.snapshots.claim(decision.snapshot)  # as an answer would
            else:
                replaced = await steps.snapshots.replace(loaded, decision.snapshot)
        except PreconditionFailed:
            return  # answered (claimed) meanwhile
        if decision.then == "resume":
            for observation in resumed(decision.snapshot, EXPIRY_RESUME_ID):
                steps.observer.observe(observation)
            await steps.resume_claimed(replaced)
            return
        expired = decision.snapshot
        await steps.snapshots.drop_deadline(expired)
        failure = RunFailed(
            run_id=snapshot.run_id,
            code="expired",
            message="nobody answered in time",
            tags=snapshot.request.tags,
        )
        await steps.announce.result(failure, snapshot.request)
        version = snapshot.snapshot_version
        for part in snapshot.paused.interrupts:
            if (ref := part.tool_request.ref or "") not in snapshot.answers:
                steps.observer.observe(
                    InterruptResolved(
                        run_id=snapshot.run_id, snapshot_version=version, ref=ref, outcome="expired"
                    )
                )
        steps.observer.observe(
            ended(failure, version, run_seconds=steps.seconds_since(snapshot.run_started_at))
        )
