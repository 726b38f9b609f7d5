"""A GenerateRequest: run it to its first pause or its end, once per idempotency key."""

from __future__ import annotations

import asyncio

from intermission_schemas import GenerateRequest, RunFailed

from ...errors import IntermissionError
from .steps import Steps

__all__ = ["Requests"]


class Requests:
    def __init__(self, steps: Steps) -> None:
        self.steps = steps

    async def handle(self, request: GenerateRequest) -> None:
        if await self._repeat_if_done(request):
            return
        steps = self.steps
        try:
            spec = await steps.specs.of(request)
            messages = await steps.specs.first_messages(request)
        except IntermissionError as exc:
            await steps.fail(request, exc)
            return
        await steps.advance(spec, messages, None, version=1, parent=None)

    async def _repeat_if_done(self, request: GenerateRequest) -> bool:
        """A redelivered or duplicated request: repeat what the first delivery published."""
        snapshots, announce = self.steps.snapshots, self.steps.announce
        # Both lookups miss for every new request; side by side they cost one round trip.
        result, first = await asyncio.gather(
            snapshots.load_result(request.run_id), snapshots.load(request.run_id, 1)
        )
        if result is not None:
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
        elif first.snapshot.status == "pending":
            await announce.interrupts(first, await self.steps.specs.of(first.snapshot.request))
        return True
