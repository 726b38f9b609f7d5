"""A ResumeRequested: check its answers against the stored pause, collect them, and claim the
pause when every interrupt is answered.

A pause's status moves pending -> resuming -> resolved, each move a conditional replace on the
etag read, so of several workers holding the same pause exactly one claims it. The claim names
its owner and carries a lease the owner renews; a redelivered record finds the pause resuming
and waits while the lease is live, takes it over once it lapses, and finishes the step from the
journal. Answers from several approvers collect in the pending snapshot, each resume id applied
at most once; a redelivered answer that was applied is never rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta

import msgspec
from intermission_schemas import (
    AnswerProblem,
    CollectedAnswer,
    PendingInterrupt,
    ResumeRequested,
    RunResult,
    Snapshot,
    check_answers,
)

from ...errors import ResumeError, TamperedSnapshotError
from ..observe.events import AnswerCollected, AnswerRejected
from ..ports import PreconditionFailed
from .announce import pending_interrupt
from .authority import Answerer, authorize, required_approvals, same_approval
from .expiry import Expiry
from .journal import Journal
from .keys import snapshot_key
from .observed import resumed
from .sealing import pause_digest
from .signatures import AnswerKeys
from .snapshots import Loaded
from .spec import RunSpec
from .steps import Steps

__all__ = ["Claims"]

log = logging.getLogger("intermission.worker")

_CLAIM_RETRIES = 8


class Claims:
    def __init__(self, steps: Steps, expiry: Expiry, answer_keys: AnswerKeys | None = None) -> None:
        self.steps = steps
        self.expiry = expiry
        self.answer_keys = answer_keys

    async def handle(self, event: ResumeRequested) -> None:
        for _ in range(_CLAIM_RETRIES):
            try:
                if await self._try(event):
                    return
            except AnswerProblem as problem:
                await self._reject(event, problem)
                return
        await self._reject(event, AnswerProblem("stale", "the pause kept changing; send the resume again"))

    async def _reject(self, event: ResumeRequested, problem: AnswerProblem) -> None:
        await self.steps.announce.rejection(event, problem)
        self.steps.observer.observe(
            AnswerRejected(
                run_id=event.run_id,
                snapshot_version=event.snapshot_version,
                resume_id=event.resume_id,
                reason=problem.reason,
                detail=problem.detail,
            )
        )

    async def _try(self, event: ResumeRequested) -> bool:
        """True when done; False when a conditional write lost and the caller should retry."""
        steps = self.steps
        # Everything a resume may need, side by side in one round trip: the pause, the step that
        # continued it (if any), and the journal of the step it would start.
        (loaded, following, ended), journal = await asyncio.gather(
            steps.snapshots.around(event.run_id, event.snapshot_version),
            steps.journal(event.run_id, event.snapshot_version),
        )
        if loaded is None:
            if not await steps.snapshots.known(event.run_id):
                raise AnswerProblem("unknown_run", f"no run {event.run_id!r}")
            raise AnswerProblem("stale", f"no pause version {event.snapshot_version}")
        snapshot = loaded.snapshot
        key = snapshot_key(snapshot.run_id, snapshot.snapshot_version)
        if event.pause_digest is not None and event.pause_digest != pause_digest(snapshot):
            # The answer's word against the sealed store: the answer loses. Anyone who can write
            # to the resumes topic can send any digest, so this never fails the run.
            raise AnswerProblem(
                "digest_mismatch",
                f"the answer names pause digest {event.pause_digest[:16]!r}, not this pause's",
            )
        if (
            event.signature is not None
            and event.resume_id in snapshot.applied_resumes
            and snapshot.status in ("resolved", "expired")
        ):
            # Applied once; a signed answer arriving again after its pause was settled is a
            # replay: say so (nothing runs again either way).
            raise AnswerProblem("replayed", f"resume {event.resume_id!r} was applied already")
        if event.resume_id in snapshot.applied_resumes or (
            snapshot.status == "resuming" and snapshot.resumed_by == event.resume_id
        ):
            # This answer was applied before: the record is a redelivery. Finish what it
            # started; never reject an answer that was applied.
            return await self._redelivered(loaded, following, journal)
        if snapshot.status != "pending":
            raise AnswerProblem("stale", f"pause {snapshot.snapshot_version} is already {snapshot.status}")
        if following is not None:
            # A pending pause whose next step is stored: an older copy put back in place.
            raise TamperedSnapshotError(key, "is pending, but its next step is stored (rolled back)")
        if ended is not None:
            # The run ended while this pause stayed open (failed as tampered): it is closed.
            raise AnswerProblem("stale", f"run {event.run_id!r} has ended ({type(ended.completed).__name__})")
        groups: frozenset[str] = frozenset()  # trusted only once a signature vouches for them
        if self.answer_keys is not None:
            shown = [pending_interrupt(part, None) for part in snapshot.paused.interrupts]
            with _malformed_is_rejected():
                groups = self.answer_keys.verify(event, shown, steps.clock())
        request = snapshot.request
        answerer = Answerer(event.answered_by, groups)
        tools = {part.tool_request.ref: part.tool_request.name for part in snapshot.paused.interrupts}
        for ref in [a.ref for a in event.respond] + [a.ref for a in event.restart]:
            if ref in tools:  # an unknown ref is rejected as such below
                authorize(request, tools[ref], ref, answerer)
        if snapshot.expires_at is not None and steps.clock() >= snapshot.expires_at:
            await self.expiry.expire(loaded)
            raise AnswerProblem("expired", f"the pause expired at {snapshot.expires_at.isoformat()}")
        spec = await steps.specs.of(request)
        with _malformed_is_rejected():
            answers, approvals = _collect(snapshot, event, spec)
        complete = all(part.tool_request.ref in answers for part in snapshot.paused.interrupts)
        updated = msgspec.structs.replace(
            snapshot,
            answers=answers,
            approvals=approvals,
            applied_resumes=[*snapshot.applied_resumes, event.resume_id],
            status="resuming" if complete else "pending",
            resumed_by=event.resume_id if complete else None,
            claim=steps.claim() if complete else None,
        )
        try:
            claimed = await steps.snapshots.replace(loaded, updated)
        except PreconditionFailed:
            return False
        if complete:
            for observation in resumed(updated, event.resume_id):
                steps.observer.observe(observation)
            await steps.resume_claimed(claimed, journal)
        else:
            await steps.announce.interrupts(claimed, spec)  # approval UIs see which refs are open
            outstanding = len(snapshot.paused.interrupts) - len(answers)
            steps.observer.observe(
                AnswerCollected(
                    run_id=event.run_id,
                    snapshot_version=event.snapshot_version,
                    resume_id=event.resume_id,
                    outstanding=outstanding,
                )
            )
        return True

    async def _redelivered(
        self, loaded: Loaded, following: Loaded | RunResult | None, journal: Journal
    ) -> bool:
        steps = self.steps
        snapshot = loaded.snapshot
        if snapshot.status == "pending":
            # A partial answer: its InterruptRaised may not have gone out before the crash.
            await steps.announce.interrupts(loaded, await steps.specs.of(snapshot.request))
            return True
        if snapshot.status != "resuming":
            return True  # resolved or expired: its outcome was published before the status moved
        claim = snapshot.claim
        now = steps.clock()
        if claim is not None and claim.owner != steps.owner and claim.lease_until > now:
            # The owner may still be working (a rebalance handed this record over while it ran
            # the tools): wait for it to finish or for its lease to lapse, then look again.
            await asyncio.sleep(_wait_interval(claim.lease_until - now, steps.lease))
            return False
        takeovers = claim.takeovers + 1 if claim is not None else 1
        taken = msgspec.structs.replace(snapshot, claim=steps.claim(takeovers))
        try:
            claimed = await steps.snapshots.replace(loaded, taken)
        except PreconditionFailed:
            return False
        log.info("taking over pause %s/%s (lease lapsed)", snapshot.run_id, snapshot.snapshot_version)
        await self._recover(claimed, following, journal)
        return True

    async def _recover(self, claimed: Loaded, following: Loaded | RunResult | None, journal: Journal) -> None:
        """Finish a claim whose worker stopped. If the next step is already durable, repeat its
        event; otherwise continue from the journal, which keeps finished work finished."""
        steps = self.steps
        snapshot = claimed.snapshot
        if following is None:
            await steps.resume_claimed(claimed, journal)
            return
        if isinstance(following, Loaded):
            await steps.announce.interrupts(following, await steps.specs.of(following.snapshot.request))
        else:
            await steps.announce.result(following.completed, snapshot.request)
        await steps.mark_resolved(claimed)


@contextlib.contextmanager
def _malformed_is_rejected() -> Iterator[None]:
    """Junk in an answer that the checks did not foresee is the answer's fault: a rejection,
    never a retried (then dead-lettered) record. These checks do no I/O, so an outage cannot
    surface here."""
    try:
        yield
    except (ValueError, TypeError, UnicodeError, OverflowError) as exc:
        raise AnswerProblem(
            "malformed", f"the answer cannot be checked: {type(exc).__name__}: {exc}"
        ) from exc


def _wait_interval(remaining: timedelta, lease: timedelta) -> float:
    return max(0.05, min(remaining.total_seconds(), lease.total_seconds() / 4, 2.0))


def _collect(
    snapshot: Snapshot, event: ResumeRequested, spec: RunSpec
) -> tuple[dict[str, CollectedAnswer], dict[str, list[CollectedAnswer]]]:
    """The snapshot's answers plus this event's, each checked against the stored pause, and the
    approvals of calls that need several: a restart of such a call joins its approvals, and
    becomes its answer once enough distinct approvers agree."""
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
    approvals = dict(snapshot.approvals)
    for respond in event.respond:
        answers[respond.ref] = CollectedAnswer(
            resume_id=event.resume_id, answered_by=event.answered_by, respond=respond
        )
        approvals.pop(respond.ref, None)  # one respond (a denial) settles the call
    tools = {part.tool_request.ref: part.tool_request.name for part in snapshot.paused.interrupts}
    for restart in event.restart:
        answer = CollectedAnswer(resume_id=event.resume_id, answered_by=event.answered_by, restart=restart)
        required = required_approvals(snapshot.request, tools[restart.ref])
        if required == 1:
            answers[restart.ref] = answer
            continue
        so_far = approvals.get(restart.ref, [])
        if event.answered_by in {a.answered_by for a in so_far}:
            raise AnswerProblem(
                "already_approved", f"{event.answered_by!r} approved {restart.ref!r} already", [restart.ref]
            )
        if so_far and so_far[0].restart is not None and not same_approval(so_far[0].restart, restart):
            raise AnswerProblem(
                "approval_mismatch",
                f"{restart.ref!r} was approved to run differently; approvals must agree",
                [restart.ref],
            )
        approvals[restart.ref] = [*so_far, answer]
        if len(approvals[restart.ref]) >= required:
            answers[restart.ref] = so_far[0] if so_far else answer
            # The approvals stay recorded: who approved the call that ran.
    return answers, approvals


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
