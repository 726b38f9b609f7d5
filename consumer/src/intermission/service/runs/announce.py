"""What the worker tells the world: interrupts to approvers, results and rejections to callers."""

from __future__ import annotations

import logging
from datetime import datetime

import msgspec
from intermission_schemas import (
    AnswerProblem,
    GenerateRequest,
    InterruptRaised,
    PendingInterrupt,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    Snapshot,
    SnapshotRef,
    ToolRequestPart,
    Topics,
    encode,
)

from ..._tools import Tool
from ..ports import Publisher
from .authority import required_approvals
from .keys import snapshot_key
from .sealing import pause_digest
from .snapshots import Loaded
from .spec import RunSpec
from .tokens import ResumeTokens

__all__ = ["Announcer", "interrupt_raised", "pending_interrupt"]

log = logging.getLogger("intermission.worker")


class Announcer:
    def __init__(self, publisher: Publisher, topics: Topics, tokens: ResumeTokens | None = None) -> None:
        self.publisher = publisher
        self.topics = topics
        self.tokens = tokens

    async def interrupts(self, loaded: Loaded, spec: RunSpec) -> InterruptRaised:
        """InterruptRaised for a pause: what a form needs, and which refs are answered; the
        event as published (with its tokens)."""
        event = interrupt_raised(loaded, spec)
        if self.tokens is not None:
            tokened = [
                self._with_token(event.run_id, event.snapshot.version, event.expires_at, pending)
                for pending in event.interrupts
            ]
            event = msgspec.structs.replace(event, interrupts=tokened)
        await self.publisher.publish(self.topics.approvals, event.run_id, encode(event))
        # The lifecycle's own line is the observers' (observe/log_lines.py); this one says what
        # was published, republications of a redelivered record included.
        log.debug(
            "run %s paused at version %d: %s (answered %d of %d)",
            event.run_id,
            event.snapshot.version,
            ", ".join(f"{p.tool}[{p.ref}]" for p in event.interrupts),
            len(event.answered),
            len(event.interrupts),
        )
        return event

    def _with_token(
        self, run_id: str, version: int, expires_at: datetime | None, pending: PendingInterrupt
    ) -> PendingInterrupt:
        if self.tokens is None:
            return pending
        token = self.tokens.mint(run_id, version, pending.ref, expires_at)
        return msgspec.structs.replace(pending, token=token)

    async def rejection(self, event: ResumeRequested, problem: AnswerProblem) -> None:
        log.debug("resume %s of run %s rejected: %s", event.resume_id, event.run_id, problem.detail)
        message = ResumeRejected(
            run_id=event.run_id,
            resume_id=event.resume_id,
            reason=problem.reason,
            detail=problem.detail,
            snapshot_version=event.snapshot_version,
            refs=problem.refs,
            field=problem.field,
        )
        await self.publisher.publish(self.topics.results, event.run_id, encode(message))

    async def result(self, event: RunCompleted | RunFailed, request: GenerateRequest) -> None:
        await self.outcome(event, request.reply_to)

    async def outcome(self, event: RunCompleted | RunFailed, reply_to: str | None) -> None:
        """A run's end, where its caller asked (``reply_to``) or on the results topic."""
        await self.publisher.publish(reply_to or self.topics.results, event.run_id, encode(event))
        if isinstance(event, RunCompleted):
            log.debug("run %s completed (%s)", event.run_id, event.finish_reason)
        else:
            log.debug("run %s failed: %s: %s", event.run_id, event.code, event.message[:200])


def interrupt_raised(loaded: Loaded, spec: RunSpec) -> InterruptRaised:
    snapshot = loaded.snapshot
    return InterruptRaised(
        run_id=snapshot.run_id,
        snapshot=SnapshotRef(
            key=snapshot_key(snapshot.run_id, snapshot.snapshot_version),
            version=snapshot.snapshot_version,
            sha256=pause_digest(snapshot),
        ),
        interrupts=[
            _with_approvals(pending_interrupt(part, spec.tools.get(part.tool_request.name)), snapshot)
            for part in snapshot.paused.interrupts
        ],
        created_at=snapshot.created_at,
        expires_at=snapshot.expires_at,
        answered=sorted(snapshot.answers),
        tags=snapshot.request.tags,
        trace_context=snapshot.trace_context,
        approvers=_approvers(snapshot),
    )


def _approvers(snapshot: Snapshot) -> list[str]:
    request = snapshot.request
    tools = {part.tool_request.name for part in snapshot.paused.interrupts}
    ruled = [
        name
        for rule in request.approval_rules
        if rule.tool in tools or rule.tool == "*"
        for name in rule.approvers
    ]
    return list(dict.fromkeys([*request.approvers, *ruled]))


def _with_approvals(pending: PendingInterrupt, snapshot: Snapshot) -> PendingInterrupt:
    """How many approvals the call needs, and who gave one so far (approval UIs show both)."""
    required = required_approvals(snapshot.request, pending.tool)
    if required == 1:
        return pending
    approved = [a.answered_by for a in snapshot.approvals.get(pending.ref, [])]
    return msgspec.structs.replace(pending, approvals_required=required, approved_by=approved)


def pending_interrupt(part: ToolRequestPart, tool: Tool | None) -> PendingInterrupt:
    request = part.tool_request
    return PendingInterrupt(
        ref=request.ref or "",
        tool=request.name,
        input=request.input,
        metadata=part.interrupt,
        description=tool.description if tool else "",
        output_schema=tool.output.json_schema if tool else None,
        input_schema=tool.input.json_schema if tool else None,
        restartable=tool.restartable if tool else False,
    )
