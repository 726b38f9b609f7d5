"""A GenerateRequest: run it to its first pause or its end, once per idempotency key."""

from __future__ import annotations

import asyncio

from intermission_schemas import GenerateRequest, RunFailed, RunResult

from ...errors import IntermissionError
from ..observe.events import RunStarted
from .journal import Journal, StepTaken
from .lease import ClaimLost, ClaimWatch, Lease, wait_interval
from .observed import ended
from .snapshots import Loaded
from .steps import Steps

__all__ = ["Requests"]


class Requests:
    def __init__(self, steps: Steps) -> None:
        self.steps = steps
        self._watch = ClaimWatch(steps.elapsed)

    async def handle(self, request: GenerateRequest) -> None:
        # Forgotten however handling ends (claimed, already done, cancelled, failed): an entry
        # left behind would stay for the worker's life, one per run that ever waited.
        try:
            await self._handle(request)
        finally:
            self._watch.forget(request.run_id)

    async def _handle(self, request: GenerateRequest) -> None:
        steps = self.steps
        # A first delivery, the usual case, reads nothing and claims nothing before its model
        # call: the step's claim is created with the first reply, and being the run's first
        # object it proves nothing else of the run is stored. A redelivered or duplicated
        # record meets that claim (StepTaken; its model call was wasted) and reads what the
        # first delivery stored.
        journal = steps.unclaimed_journal(request.run_id, 0)
        try:
            await Lease(journal.renew, duration=steps.lease, sleep=steps.sleep).hold(
                self._first_step(request, journal)
            )
            return
        except ClaimLost:
            return
        except StepTaken:
            pass
        while True:
            journal = await steps.journal(request.run_id, 0)
            result, first = await asyncio.gather(
                steps.snapshots.load_result(request.run_id), steps.snapshots.current(request.run_id, 1)
            )
            if await self._repeat_if_done(request, result, first):
                return
            claimed = await journal.claim(
                steps.owner,
                steps.clock,
                steps.lease,
                lambda held: self._watch.seen_for(request.run_id, held),
                sleep=steps.sleep,
            )
            if isinstance(claimed, Lease):
                break
            # Another worker holds the first step (a rebalance handed this record over while
            # it ran): wait for its outcome, or for a whole lease to pass here unrenewed.
            remaining = steps.lease - self._watch.seen_for(request.run_id, claimed)
            await steps.sleep(wait_interval(remaining, steps.lease))
        try:
            await claimed.hold(self._first_step(request, journal))
        except ClaimLost:
            return

    async def _first_step(self, request: GenerateRequest, journal: Journal) -> None:
        steps = self.steps
        started_at = steps.clock()
        steps.observer.observe(RunStarted(run_id=request.run_id))
        try:
            spec = await steps.specs.of(request)
            messages = await steps.specs.first_messages(request)
        except IntermissionError as exc:
            await journal.ensure_claimed()  # nothing of the run is written before its claim
            await steps.fail(request, exc, started_at=started_at)
            return
        await steps.advance(spec, messages, None, journal=journal, parent=None, started_at=started_at)

    async def _repeat_if_done(
        self, request: GenerateRequest, result: RunResult | None, first: Loaded | None
    ) -> bool:
        """A redelivered or duplicated request: repeat what the first delivery published."""
        announce = self.steps.announce
        if result is not None:
            # Its end marker may not be written yet (a crash right after the result): same key.
            await self.steps.snapshots.index_result(result)
            await announce.result(result.completed, request)
            return True
        if first is None:
            return False
        if first.snapshot.request.idempotency_key != request.idempotency_key:
            failure = RunFailed(
                run_id=request.run_id,
                code="duplicate_run_id",
                message="run id already used by a request with another idempotency key",
                tags=request.tags,
            )
            await announce.result(failure, request)
            self.steps.observer.observe(ended(failure, None))
        elif first.snapshot.status == "pending":
            await announce.interrupts(first, await self.steps.specs.of(first.snapshot.request))
        return True
