"""A ResumeRequested: check its answers against the stored pause, collect them, and claim the
pause when every interrupt is answered.

What may happen to the pause is decided by lifecycle.py (pure); this module reads, checks the
answer (signature, who may answer, values), then writes and publishes what was decided. Each
write is a conditional replace on the etag read, so of several workers holding the same pause
exactly one claims it. The claim names its owner and carries a lease the owner renews; a
redelivered record finds the pause resuming and waits while the claim keeps changing (renewed),
takes it over once a whole lease passed here without a renewal, and finishes the step from the
journal. Answers from several approvers collect in the pending snapshot, each resume id applied
at most once; a redelivered answer that was applied is never rejected, however long it waits.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Literal, TypeAlias, assert_never

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
from .authority import Answerer, authorize, one_answer_settles, required_approvals, same_approval
from .expiry import Expiry
from .keys import snapshot_key
from .lease import ClaimWatch, wait_interval
from .lifecycle import (
    Answer,
    Check,
    Collected,
    Decision,
    Lost,
    Nothing,
    Pause,
    Reject,
    Repeat,
    Republish,
    Tampered,
    Wait,
    Write,
    decide,
)
from .names import person, persons
from .observed import EXPIRY_RESUME_ID, resumed
from .sealing import pause_digest
from .signatures import AnswerKeys
from .snapshots import Loaded, PauseClosed, check_claim
from .spec import RunSpec
from .steps import Steps

__all__ = ["Claims"]

log = logging.getLogger("intermission.worker")

_CONFLICTS = 8  # lost writes in a row of a new answer (other answers landing) before "stale"

# "claimed": a pause one answer settles was claimed by another answer or its expiry first
Outcome: TypeAlias = Literal["done", "retry", "conflict", "claimed"]


class Claims:
    def __init__(self, steps: Steps, expiry: Expiry, answer_keys: AnswerKeys | None = None) -> None:
        self.steps = steps
        self.expiry = expiry
        self.answer_keys = answer_keys
        self._watch = ClaimWatch(steps.elapsed)

    async def handle(self, event: ResumeRequested) -> None:
        # Forgotten however handling ends (done, rejected, cancelled, failed): an entry left
        # behind would stay for the worker's life, one per pause that ever waited.
        try:
            await self._handle(event)
        finally:
            self._watch.forget((event.run_id, event.snapshot_version))

    async def _handle(self, event: ResumeRequested) -> None:
        conflicts = 0
        while True:
            try:
                outcome = await self._try(event)
            except AnswerProblem as problem:
                await self._reject(event, problem)
                return
            match outcome:
                case "done":
                    return
                case "retry":
                    continue  # an applied answer waits or retries as long as it takes
                case "claimed":
                    continue  # decided on the claim, as a redelivery or a stale answer
                case "conflict":
                    conflicts += 1
                    if conflicts >= _CONFLICTS:
                        changing = AnswerProblem("stale", "the pause kept changing; send the resume again")
                        await self._reject(event, changing)
                        return
                case never:
                    assert_never(never)

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

    async def _try(self, event: ResumeRequested) -> Outcome:
        steps = self.steps
        run_id, version = event.run_id, event.snapshot_version
        loaded = await steps.snapshots.load(run_id, version)
        if loaded is None:
            if not await steps.snapshots.known(run_id):
                raise AnswerProblem("unknown_run", f"no run {run_id!r}")
            raise AnswerProblem("stale", f"no pause version {version}")
        if loaded.snapshot.status == "pending" and one_answer_settles(loaded.snapshot):
            # Its claim is a separate object, created by the one answer that takes it: the
            # usual answer reads the pause and creates the claim, nothing more. Whatever else
            # the pending pause would say is decided on its claim, if one exists.
            decision = self._decide(event, Pause(snapshot=loaded.snapshot))
            refused: AnswerProblem | None = None
            if isinstance(decision, Check):
                try:
                    outcome = await self._apply(event, loaded)
                except AnswerProblem as problem:
                    # Maybe applied already: a redelivery (its signature may have expired
                    # since, its key been rotated) is decided on the claim, never refused.
                    refused, outcome = problem, "claimed"
                if outcome != "claimed":
                    return outcome
            try:
                claim = await steps.snapshots.load_claim(run_id, version)
            except PauseClosed:
                raise AnswerProblem("stale", f"run {run_id!r} has ended") from None
            if claim is None:
                if refused is not None:
                    raise refused
                if isinstance(decision, Check):
                    return "retry"  # created, then removed: look again
                return await self._act(event, loaded, decision, None)
            check_claim(loaded.snapshot, claim.snapshot)
            loaded = claim
        # A claimed pause, or one that collects several answers: what it may need, side by
        # side in one round trip (the step that continued it, and the run's end). The journal
        # of the step it would start is listed only when taking a claimed pause over.
        following, ended = await steps.snapshots.beyond(loaded.snapshot)
        pause = Pause(snapshot=loaded.snapshot, continued=following is not None, ended=ended is not None)
        return await self._act(event, loaded, self._decide(event, pause), following)

    def _decide(self, event: ResumeRequested, pause: Pause) -> Decision:
        steps = self.steps
        snapshot = pause.snapshot
        answer = Answer(
            resume_id=event.resume_id,
            signed=event.signature is not None,
            digest_matches=event.pause_digest is None or event.pause_digest == pause_digest(snapshot),
            # Only a claim is watched: a pending pause read on the way to its claim must not
            # restart the count of how long the claim was seen unchanged.
            seen_for=self._watch.seen_for((snapshot.run_id, snapshot.snapshot_version), snapshot.claim)
            if snapshot.status != "pending"
            else timedelta(0),
        )
        return decide(pause, answer, now=steps.clock(), owner=steps.owner, lease=steps.lease)

    async def _act(
        self,
        event: ResumeRequested,
        loaded: Loaded,
        decision: Decision,
        following: Loaded | RunResult | None,
    ) -> Outcome:
        steps = self.steps
        snapshot = loaded.snapshot
        match decision:
            case Check():
                return await self._apply(event, loaded)
            case Republish():
                # A partial answer: its InterruptRaised may not have gone out before the crash.
                await steps.announce.interrupts(loaded, await steps.specs.of(snapshot.request))
                return "done"
            case Repeat():
                await self._repeat(loaded, following)
                return "done"
            case Nothing():
                return "done"
            case Wait(remaining=remaining):
                await steps.sleep(wait_interval(remaining, steps.lease))
                return "retry"
            case Write(snapshot=taken):
                try:
                    claimed = await steps.snapshots.replace(loaded, taken)
                except PreconditionFailed:
                    return "retry"
                log.info("taking over pause %s/%s (lease lapsed)", snapshot.run_id, snapshot.snapshot_version)
                await self._recover(claimed, following)
                return "done"
            case Reject(reason=reason, detail=detail, expire_first=expire_first, repeat_first=repeat_first):
                if expire_first:
                    await self.expiry.expire(loaded)
                if repeat_first:
                    await self._repeat(loaded, following)
                raise AnswerProblem(reason, detail)
            case Tampered(detail=detail):
                raise TamperedSnapshotError(snapshot_key(snapshot.run_id, snapshot.snapshot_version), detail)
            case Lost():
                raise AssertionError("an answer never decides Lost")
            case never:
                assert_never(never)

    async def _apply(self, event: ResumeRequested, loaded: Loaded) -> Outcome:
        """Check a new answer against the pause and its rules, then merge it in."""
        steps = self.steps
        snapshot = loaded.snapshot
        if event.resume_id == EXPIRY_RESUME_ID:
            # The expiry policy's own id: an answer under it would be counted and shown as the
            # policy's default, and would pass for the policy's claim when it is redelivered.
            raise AnswerProblem("malformed", f"resume id {EXPIRY_RESUME_ID!r} is the expiry policy's")
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
        spec = await steps.specs.of(request)
        with _malformed_is_rejected():
            answers, approvals = _collect(snapshot, event, spec)
        collected = Collected(resume_id=event.resume_id, answers=answers, approvals=approvals)
        decision = decide(
            Pause(snapshot=snapshot), collected, now=steps.clock(), owner=steps.owner, lease=steps.lease
        )
        if isinstance(decision, Reject):
            raise AnswerProblem(decision.reason, decision.detail)
        assert isinstance(decision, Write), decision
        updated = decision.snapshot
        try:
            if one_answer_settles(snapshot):
                claimed = await steps.snapshots.claim(updated)
            else:
                claimed = await steps.snapshots.replace(loaded, updated)
        except PreconditionFailed:
            # Taken by another answer (or the expiry) first: this one is decided on the claim.
            return "claimed" if one_answer_settles(snapshot) else "conflict"
        if decision.then == "resume":
            for observation in resumed(updated, event.resume_id):
                steps.observer.observe(observation)
            await steps.resume_claimed(claimed, steps.unstarted_journal(event.run_id, event.snapshot_version))
        else:
            await steps.announce.interrupts(claimed, spec)  # approval UIs see which refs are open
            steps.observer.observe(
                AnswerCollected(
                    run_id=event.run_id,
                    snapshot_version=event.snapshot_version,
                    resume_id=event.resume_id,
                    outstanding=len(snapshot.paused.interrupts) - len(answers),
                )
            )
        return "done"

    async def _recover(self, claimed: Loaded, following: Loaded | RunResult | None) -> None:
        """Finish a claim whose worker stopped. If the next step is already durable, repeat its
        event; otherwise continue from the journal, which keeps finished work finished."""
        if following is None:
            await self.steps.resume_claimed(claimed)  # lists the journal: the step may have begun
            return
        await self._repeat(claimed, following)

    async def _repeat(self, claimed: Loaded, following: Loaded | RunResult | None) -> None:
        """Announce the stored step after the pause again, and settle the pause."""
        steps = self.steps
        if isinstance(following, Loaded):
            # Only while that next pause is open: announced again once answered, it would show
            # as waiting in approval views.
            if not await steps.snapshots.taken(following):
                await steps.announce.interrupts(following, await steps.specs.of(following.snapshot.request))
        elif following is not None:
            await steps.announce.result(following.completed, claimed.snapshot.request)
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
        if person(event.answered_by) in persons(a.answered_by for a in so_far):
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
