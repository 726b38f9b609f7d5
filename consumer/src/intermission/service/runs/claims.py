"""A ResumeRequested: check its answers against the stored pause, collect them, and claim the
pause when every interrupt is answered.

A pause's status moves pending -> resuming -> resolved, each move a conditional replace on the
etag read, so of several workers holding the same pause exactly one claims it. Answers from
several approvers collect in the pending snapshot, each resume id applied at most once.
"""

from __future__ import annotations

import msgspec
from intermission_schemas import (
    AnswerProblem,
    CollectedAnswer,
    PendingInterrupt,
    ResumeRequested,
    Snapshot,
    check_answers,
)

from ...errors import ResumeError
from ..ports import PreconditionFailed
from .announce import pending_interrupt
from .expiry import Expiry
from .sealing import pause_digest
from .snapshots import Loaded
from .spec import RunSpec
from .steps import Steps

__all__ = ["Claims"]

_CLAIM_RETRIES = 8


class Claims:
    def __init__(self, steps: Steps, expiry: Expiry) -> None:
        self.steps = steps
        self.expiry = expiry

    async def handle(self, event: ResumeRequested) -> None:
        for _ in range(_CLAIM_RETRIES):
            try:
                if await self._try(event):
                    return
            except AnswerProblem as problem:
                await self.steps.announce.rejection(event, problem)
                return
        await self.steps.announce.rejection(
            event, AnswerProblem("stale", "the pause kept changing; send the resume again")
        )

    async def _try(self, event: ResumeRequested) -> bool:
        """True when done; False when a conditional write lost and the caller should retry."""
        steps = self.steps
        loaded = await steps.snapshots.load(event.run_id, event.snapshot_version)
        if loaded is None:
            if not await steps.snapshots.known(event.run_id):
                raise AnswerProblem("unknown_run", f"no run {event.run_id!r}")
            raise AnswerProblem("stale", f"no pause version {event.snapshot_version}")
        snapshot = loaded.snapshot
        if snapshot.status == "resuming" and snapshot.resumed_by == event.resume_id:
            # This resume claimed the pause earlier and the worker stopped before finishing.
            await self._recover(loaded)
            return True
        if event.resume_id in snapshot.applied_resumes:
            raise AnswerProblem("duplicate", f"resume {event.resume_id!r} was already applied")
        if snapshot.status != "pending":
            raise AnswerProblem("stale", f"pause {snapshot.snapshot_version} is already {snapshot.status}")
        request = snapshot.request
        if request.approvers and event.answered_by not in request.approvers:
            raise AnswerProblem("unauthorized", f"{event.answered_by!r} may not answer this run")
        if snapshot.expires_at is not None and steps.clock() >= snapshot.expires_at:
            await self.expiry.expire(loaded)
            raise AnswerProblem("expired", f"the pause expired at {snapshot.expires_at.isoformat()}")
        spec = await steps.specs.of(request)
        answers = _collect(snapshot, event, spec)
        complete = all(part.tool_request.ref in answers for part in snapshot.paused.interrupts)
        updated = msgspec.structs.replace(
            snapshot,
            answers=answers,
            applied_resumes=[*snapshot.applied_resumes, event.resume_id],
            status="resuming" if complete else "pending",
            resumed_by=event.resume_id if complete else None,
        )
        try:
            claimed = await steps.snapshots.replace(loaded, updated)
        except PreconditionFailed:
            return False
        if complete:
            await steps.resume_claimed(claimed)
        else:
            await steps.announce.interrupts(claimed, spec)  # approval UIs see which refs are open
        return True

    async def _recover(self, claimed: Loaded) -> None:
        """Finish a claim whose worker stopped. If the next step is already durable, repeat its
        event instead of running the tools again."""
        steps = self.steps
        snapshot = claimed.snapshot
        following = await steps.snapshots.load(snapshot.run_id, snapshot.snapshot_version + 1)
        if following is not None and following.snapshot.parent_sha256 == pause_digest(snapshot):
            await steps.announce.interrupts(following, await steps.specs.of(following.snapshot.request))
        else:
            result = await steps.snapshots.load_result(snapshot.run_id)
            if result is None:
                await steps.resume_claimed(claimed)
                return
            await steps.announce.result(result.completed, snapshot.request)
        await steps.mark_resolved(claimed)


def _collect(snapshot: Snapshot, event: ResumeRequested, spec: RunSpec) -> dict[str, CollectedAnswer]:
    """The snapshot's answers plus this event's, each checked against the stored pause."""
    pending = [
        pending_interrupt(part, spec.tool(part.tool_request.name)) for part in snapshot.paused.interrupts
    ]
    check_answers(
        pending,
        snapshot.answers,
        event.respond,
        event.restart,
        output_problem=lambda interrupt, value: _problem(spec, interrupt, value, "output"),
        input_problem=lambda interrupt, value: _problem(spec, interrupt, value, "input"),
    )
    answers = dict(snapshot.answers)
    for respond in event.respond:
        answers[respond.ref] = CollectedAnswer(
            resume_id=event.resume_id, answered_by=event.answered_by, respond=respond
        )
    for restart in event.restart:
        answers[restart.ref] = CollectedAnswer(
            resume_id=event.resume_id, answered_by=event.answered_by, restart=restart
        )
    return answers


def _problem(spec: RunSpec, interrupt: PendingInterrupt, value: object, kind: str) -> tuple[str, str] | None:
    tool = spec.tool(interrupt.tool)
    try:
        if kind == "output":
            tool.check_output(value, interrupt.ref)
        else:
            tool.check_input(value, interrupt.ref)
    except ResumeError as exc:
        return exc.field or "", str(exc)
    return None
