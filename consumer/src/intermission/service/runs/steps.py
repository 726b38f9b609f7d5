"""Taking a run one step: generate, then store and announce where it stopped.

A step ends in a pause (a new snapshot, its deadline, an InterruptRaised), in the run's end
(the result object, then RunCompleted) or in a failure (the result object, then RunFailed).
Store first, publish second: a crash in between is repaired by the redelivered record, which
finds the stored object and publishes it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from intermission_schemas import (
    Claim,
    GenerateRequest,
    Message,
    RunCompleted,
    RunFailed,
    RunResult,
    Snapshot,
)

from ..._app import Intermission
from ..._middleware import Middleware
from ..._response import GenerateResponse, Resume
from ..._schema import schema_of
from ...errors import (
    IntermissionError,
    MaxTurnsError,
    ModelError,
    ResumeError,
    SchemaError,
    ServiceError,
    TamperedSnapshotError,
    ToolError,
    UnknownToolError,
)
from ..clock import Clock
from ..observe.events import RunPaused
from ..observe.observer import NO_OBSERVER, Observer
from ..ports import PreconditionFailed
from ..tracing import current_trace_context, mark_failed, resuming
from .announce import Announcer
from .journal import Journal
from .keys import result_key
from .lease import ClaimLost, snapshot_lease
from .lifecycle import Finished, Pause, Write, decide, new_claim
from .observed import ended
from .outage import NO_REPORT, OutageReport
from .sealing import pause_digest
from .snapshots import Loaded, Snapshots
from .spec import RunSpec, RunSpecs

__all__ = ["Steps"]

log = logging.getLogger("intermission.worker")


class Steps:
    """The collaborators every kind of record needs, and the step they all take."""

    def __init__(
        self,
        *,
        ai: Intermission,
        snapshots: Snapshots,
        announce: Announcer,
        clock: Clock,
        owner: str,
        lease: timedelta,
        observer: Observer = NO_OBSERVER,
        use: Sequence[Middleware] = (),
    ) -> None:
        self.ai = ai
        self.use = tuple(use)  # hooks around every model and tool call, inside the journal's
        self.observer = observer
        self.specs = RunSpecs(ai)
        self.snapshots = snapshots
        self.announce = announce
        # The parts of ``clock`` every kind of record uses, by the names they use.
        self.clock = clock.now
        self.owner = owner  # this worker, as named in the claims it holds
        self.lease = lease
        self.sleep = clock.sleep  # lease renewals, and waits on another worker's claim
        self.elapsed = clock.elapsed  # seconds, never stepped: how long a claim was seen unchanged
        self.outages: OutageReport = NO_REPORT  # the worker's Health, once a worker runs these

    async def journal(self, run_id: str, step: int) -> Journal:
        journal = await Journal.open(self.snapshots.store, self.snapshots.sealer, run_id, step)
        journal.outages = self.outages
        return journal

    def unstarted_journal(self, run_id: str, step: int) -> Journal:
        """The journal of a step whose pause this worker just moved from pending (`Journal.empty`)."""
        journal = Journal.empty(self.snapshots.store, self.snapshots.sealer, run_id, step)
        journal.outages = self.outages
        return journal

    def unclaimed_journal(self, run_id: str, step: int) -> Journal:
        """A first attempt's journal: the step's claim is created with its first model reply
        (`Journal.unclaimed`)."""
        snapshots = self.snapshots
        claim = (self.owner, self.clock, self.lease)
        journal = Journal.unclaimed(snapshots.store, snapshots.sealer, run_id, step, claim)
        journal.outages = self.outages
        return journal

    async def advance(
        self,
        spec: RunSpec,
        messages: Sequence[Message],
        resume: Resume | None,
        *,
        journal: Journal,
        parent: str | None,
        started_at: datetime | None,
    ) -> None:
        """Generate from ``messages`` and settle the outcome as the step after ``journal``'s.
        ``started_at``: when the run's first step began (None where an older pause lacks it)."""
        try:
            response = await spec.generate(self.ai, messages, resume, journal, self.observer, self.use)
        except ServiceError:
            # The store or the log failed under the journal (its claim, a read back): the
            # worker's fault, never the run's. The record is tried again.
            raise
        except IntermissionError as exc:
            await journal.ensure_claimed()  # a step that failed before its first reply
            await self.fail(spec.request, exc, version=journal.step + 1, started_at=started_at)
            return
        await self._settle(spec, response, version=journal.step + 1, parent=parent, started_at=started_at)

    def claim(self, takeovers: int = 0) -> Claim:
        return new_claim(self.owner, self.clock(), self.lease, takeovers)

    async def resume_claimed(self, claimed: Loaded, journal: Journal | None = None) -> None:
        """Run a pause this worker claimed (status ``resuming``, every ref answered) to its next
        step under a renewed lease, then mark it resolved. Returns quietly if another worker
        takes the pause over meanwhile: it finishes the step."""
        lease, current = snapshot_lease(
            self.snapshots, claimed, owner=self.owner, duration=self.lease, clock=self.clock, sleep=self.sleep
        )
        try:
            await lease.hold(self._continue(claimed, journal))
        except ClaimLost:
            return
        await self.mark_resolved(current())

    async def _continue(self, claimed: Loaded, journal: Journal | None) -> None:
        snapshot = claimed.snapshot
        # The step continues the trace the run paused in, however long ago and wherever.
        with resuming(snapshot.trace_context, snapshot.run_id, snapshot.snapshot_version):
            await self._continue_traced(claimed, journal)

    async def _continue_traced(self, claimed: Loaded, journal: Journal | None) -> None:
        snapshot = claimed.snapshot
        try:
            spec = await self.specs.of(snapshot.request)
            resume = _resume(snapshot, spec)
        except IntermissionError as exc:
            await self.fail(snapshot.request, exc, started_at=snapshot.run_started_at)
            return
        await self.advance(
            spec,
            snapshot.paused.messages,
            resume,
            journal=journal or await self.journal(snapshot.run_id, snapshot.snapshot_version),
            parent=pause_digest(snapshot),
            started_at=snapshot.run_started_at,
        )

    async def mark_resolved(self, claimed: Loaded) -> None:
        """resuming -> resolved, unless another worker moved the pause on first. A claim
        (``claims/N``) is not rewritten: the stored step after it shows the pause resolved, so
        only its markers go."""
        if claimed.claimed:
            await self.snapshots.drop_deadline(claimed.snapshot)
            return
        current: Loaded | None = claimed
        while current is not None:
            decision = decide(
                Pause(snapshot=current.snapshot),
                Finished(),
                now=self.clock(),
                owner=self.owner,
                lease=self.lease,
            )
            if not isinstance(decision, Write):
                return  # settled already, or taken over: the new owner resolves it
            try:
                await self.snapshots.replace(current, decision.snapshot)
            except PreconditionFailed:
                # A lease renewal in flight when the work ended, or another worker: look again.
                current = await self.snapshots.load(
                    current.snapshot.run_id, current.snapshot.snapshot_version
                )
                continue
            await self.snapshots.drop_deadline(decision.snapshot)
            return

    async def fail(
        self,
        request: GenerateRequest,
        exc: IntermissionError,
        *,
        version: int | None = None,
        started_at: datetime | None = None,
    ) -> None:
        failure = RunFailed(
            run_id=request.run_id, code=_failure_code(exc), message=str(exc), tags=request.tags
        )
        mark_failed(f"run failed: {failure.code}")
        await self._finish(request, RunResult(run_id=request.run_id, completed=failure), version, started_at)

    async def tampered(self, run_id: str, reply_to: str | None, detail: str) -> RunCompleted | RunFailed:
        """End a run whose stored state was tampered with: the RunFailed goes into the result
        object first (If-None-Match), which closes the run, so no later answer completes it. A
        run that already ended keeps its end, published again: one terminal event per run."""
        failure = RunFailed(run_id=run_id, code="tampered", message=detail)
        mark_failed("run failed: tampered")
        await self.snapshots.close(run_id)
        try:
            stored = await self.snapshots.create_result(
                RunResult(run_id=run_id, completed=failure),
                alongside=lambda stored: self.announce.outcome(stored.completed, reply_to),
            )
        except TamperedSnapshotError:
            # The result object itself is forged: its key is taken, so no step can store an end
            # there either; the run is closed all the same.
            await self.announce.outcome(failure, reply_to)
            return failure
        return stored.completed

    async def _settle(
        self,
        spec: RunSpec,
        response: GenerateResponse,
        *,
        version: int,
        parent: str | None,
        started_at: datetime | None,
    ) -> None:
        request = spec.request
        if response.finish_reason == "interrupted":
            now = self.clock()
            expires = now + timedelta(seconds=request.expiry.after_seconds) if request.expiry else None
            if expires is not None:
                # The marker goes first: a pause must never exist without its deadline on record.
                await self.snapshots.add_deadline(expires, request.run_id, version)
            loaded = await self.snapshots.create(
                Snapshot(
                    run_id=request.run_id,
                    snapshot_version=version,
                    status="pending",
                    request=request,
                    paused=response.to_paused(),
                    created_at=now,
                    expires_at=expires,
                    parent_sha256=parent,
                    trace_context=current_trace_context(),  # the resume continues this trace
                    run_started_at=started_at,
                ),
                alongside=lambda stored: self.announce.interrupts(stored, spec),
            )
            interrupts = len(loaded.snapshot.paused.interrupts)
            self.observer.observe(
                RunPaused(run_id=request.run_id, snapshot_version=version, interrupts=interrupts)
            )
            return
        completed = RunCompleted(
            run_id=request.run_id,
            text=response.text,
            finish_reason=response.finish_reason,
            output=_output(response, spec),
            result_key=result_key(request.run_id),
            tags=request.tags,
        )
        await self._finish(
            request,
            RunResult(
                run_id=request.run_id, completed=completed, messages=response.messages, parent_sha256=parent
            ),
            version,
            started_at,
        )

    async def _finish(
        self, request: GenerateRequest, result: RunResult, version: int | None, started_at: datetime | None
    ) -> None:
        stored = await self.snapshots.create_result(
            result, alongside=lambda stored: self.announce.result(stored.completed, request)
        )
        self.observer.observe(ended(stored.completed, version, run_seconds=self.seconds_since(started_at)))

    def seconds_since(self, started_at: datetime | None) -> float | None:
        return None if started_at is None else max(0.0, (self.clock() - started_at).total_seconds())


def _resume(snapshot: Snapshot, spec: RunSpec) -> Resume:
    """The engine's Resume for a pause whose answers are all collected."""
    respond, restart = [], []
    for part in snapshot.paused.interrupts:
        answer = snapshot.answers[part.tool_request.ref or ""]
        tool = spec.tool(part.tool_request.name)
        if answer.respond is not None:
            respond.append(tool.respond(part, answer.respond.output, metadata=answer.respond.metadata))
        elif answer.restart is not None:
            replacement = answer.restart
            restart.append(
                tool.restart(
                    part,
                    replacement.resumed,
                    replace_input=replacement.replace_input if replacement.replaces_input else None,
                )
            )
    return Resume(respond=respond, restart=restart)


def _output(response: GenerateResponse, spec: RunSpec) -> Any:
    """The structured output as JSON data (the event carries data, not the app's classes)."""
    if spec.output_schema is None:
        return None
    try:
        return schema_of(spec.output_schema).dump(response.output)
    except SchemaError:
        return None


def _failure_code(exc: IntermissionError) -> str:
    match exc:
        case UnknownToolError():
            return "unknown_tool"
        case SchemaError():
            return "invalid_request"
        case ModelError():
            return "model_error"
        case ToolError():
            return "tool_error"
        case MaxTurnsError():
            return "max_turns"
        case ResumeError():
            return f"resume_{exc.code}"
        case _:
            return "failed"
