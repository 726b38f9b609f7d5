"""What a worker does with one request or one resume. Stateless: everything lives in the store.

A pause is ``runs/{id}/snapshots/{N}``. Its status moves pending -> resuming -> resolved, each move
a conditional write (If-Match on the etag read), so of two workers holding the same pause only
one claims it. New objects are written with If-None-Match, so a retried or duplicated message
that reaches the same step finds the first writer's object and republishes it instead of
forking the run. Effects happen in this order, and the offset is committed only after all:
store write, then event publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from intermission_schemas import (
    CollectedAnswer,
    GenerateRequest,
    InterruptRaised,
    PendingInterrupt,
    RejectReason,
    RespondAnswer,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    RunResult,
    Snapshot,
    SnapshotRef,
    ToolRequestPart,
    decode_run_result,
    decode_snapshot,
    encode,
)

from .._app import Intermission
from .._response import GenerateResponse, Resume
from .._tools import Tool
from ..errors import (
    IntermissionError,
    MaxTurnsError,
    ModelError,
    ResumeError,
    SchemaError,
    ToolError,
    UnknownToolError,
)
from ._ports import PreconditionFailed, Publisher, SnapshotStore, StoredObject
from ._sealing import (
    EXPIRY_PREFIX,
    Sealer,
    expiry_key,
    parse_expiry_key,
    pause_digest,
    result_key,
    run_prefix,
    snapshot_key,
)

log = logging.getLogger("intermission.worker")

_CLAIM_RETRIES = 8


class Topics(msgspec.Struct, frozen=True, kw_only=True):
    requests: str = "intermission.requests"
    approvals: str = "intermission.approvals"
    resumes: str = "intermission.resumes"
    results: str = "intermission.results"
    dead_letter: str = "intermission.dead-letter"


class _Loaded(msgspec.Struct, frozen=True):
    snapshot: Snapshot
    etag: str


class _Rejected(Exception):
    def __init__(
        self, reason: RejectReason, detail: str, refs: list[str] | None = None, field: str | None = None
    ):
        super().__init__(detail)
        self.reason: RejectReason = reason
        self.detail = detail
        self.refs = refs or []
        self.field = field


class Runs:
    """Request and resume handling for one worker. Holds no per-run state."""

    def __init__(
        self,
        *,
        ai: Intermission,
        store: SnapshotStore,
        publisher: Publisher,
        topics: Topics,
        sealer: Sealer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.ai = ai
        self.store = store
        self.publisher = publisher
        self.topics = topics
        self.sealer = sealer
        self.clock = clock
        self._inline_tools: dict[bytes, Tool] = {}

    # -- requests ---------------------------------------------------------------------------

    async def on_request(self, request: GenerateRequest) -> None:
        if await self._republish_if_done(request):
            return
        try:
            tools = self._tools(request)
            response = await self._first_run(request, tools)
        except IntermissionError as exc:
            await self._fail(request, exc)
            return
        await self._settle(request, response, version=1, parent=None)

    async def _republish_if_done(self, request: GenerateRequest) -> bool:
        """A redelivered or duplicated request: repeat what the first delivery published."""
        # Both lookups miss for every new request; side by side they cost one round trip.
        result, first = await asyncio.gather(
            self.store.get(result_key(request.run_id)), self._load(request.run_id, 1)
        )
        if result is not None:
            stored = decode_run_result(self.sealer.open(result_key(request.run_id), result.data))
            await self._publish_result(stored.completed, request)
            return True
        if first is None:
            return False
        if first.snapshot.request.idempotency_key != request.idempotency_key:
            await self._publish_result(
                RunFailed(
                    run_id=request.run_id,
                    code="duplicate_run_id",
                    message="run id already used by a request with another idempotency key",
                    tags=request.tags,
                ),
                request,
            )
        elif first.snapshot.status == "pending":
            await self._raise(first)
        return True

    async def _first_run(self, request: GenerateRequest, tools: list[Tool]) -> GenerateResponse:
        options: dict[str, Any] = {"messages": list(request.messages), "tools": tools}
        if request.prompt is not None:
            prompt = self.ai.prompt(request.prompt)
            options = await prompt.options(request.input, list(request.messages), None, request.config)
            options["tools"] = [*options["tools"], *tools]  # generate() resolves names
        elif request.system is not None:
            options["system"] = request.system
        options.setdefault("config", request.config)
        return await self.ai.generate(context=self._context(request), max_turns=request.max_turns, **options)

    # -- resumes ----------------------------------------------------------------------------

    async def on_resume(self, event: ResumeRequested) -> None:
        for _ in range(_CLAIM_RETRIES):
            try:
                if await self._try_resume(event):
                    return
            except _Rejected as rejected:
                await self._reject(event, rejected)
                return
        await self._reject(event, _Rejected("stale", "the pause kept changing; send the resume again"))

    async def _try_resume(self, event: ResumeRequested) -> bool:
        """True when done; False when a conditional write lost and the caller should retry."""
        loaded = await self._load(event.run_id, event.snapshot_version)
        if loaded is None:
            known = await self.store.list(run_prefix(event.run_id))
            if not known:
                raise _Rejected("unknown_run", f"no run {event.run_id!r}")
            raise _Rejected("stale", f"no pause version {event.snapshot_version}")
        snapshot = loaded.snapshot
        if snapshot.status == "resuming" and snapshot.resumed_by == event.resume_id:
            # This resume claimed the pause earlier and the worker stopped before finishing.
            await self._recover(loaded)
            return True
        if event.resume_id in snapshot.applied_resumes:
            raise _Rejected("duplicate", f"resume {event.resume_id!r} was already applied")
        if snapshot.status != "pending":
            raise _Rejected("stale", f"pause {snapshot.snapshot_version} is already {snapshot.status}")
        request = snapshot.request
        if request.approvers and event.answered_by not in request.approvers:
            raise _Rejected("unauthorized", f"{event.answered_by!r} may not answer this run")
        if snapshot.expires_at is not None and self.clock() >= snapshot.expires_at:
            await self._expire(loaded)
            raise _Rejected("expired", f"the pause expired at {snapshot.expires_at.isoformat()}")
        answers = self._collect(snapshot, event)
        pending_refs = [p.tool_request.ref or "" for p in snapshot.paused.interrupts]
        complete = all(ref in answers for ref in pending_refs)
        updated = msgspec.structs.replace(
            snapshot,
            answers=answers,
            applied_resumes=[*snapshot.applied_resumes, event.resume_id],
            status="resuming" if complete else "pending",
            resumed_by=event.resume_id if complete else None,
        )
        try:
            etag = await self._replace(loaded, updated)
        except PreconditionFailed:
            return False
        claimed = _Loaded(updated, etag)
        if complete:
            await self._continue(claimed)
        else:
            await self._raise(claimed)  # approval UIs see which refs are still open
        return True

    def _collect(self, snapshot: Snapshot, event: ResumeRequested) -> dict[str, CollectedAnswer]:
        """The snapshot's answers plus this event's, each checked against the stored pause."""
        pending = {p.tool_request.ref or "": p for p in snapshot.paused.interrupts}
        tools = {t.name: t for t in self._tools(snapshot.request)}
        answers = dict(snapshot.answers)
        refs = [a.ref for a in event.respond] + [a.ref for a in event.restart]
        unknown = [r for r in refs if r not in pending]
        if unknown:
            raise _Rejected("unknown_ref", f"no pending interrupt has ref(s) {unknown}", unknown)
        repeated = [r for r in refs if r in answers or refs.count(r) > 1]
        if repeated:
            raise _Rejected("duplicate", f"ref(s) {sorted(set(repeated))} are already answered", repeated)
        for respond in event.respond:
            part = pending[respond.ref]
            try:
                tool = self._tool(tools, part)
                tool.check_output(respond.output, respond.ref)
            except ResumeError as exc:
                raise _Rejected("invalid_output", str(exc), [respond.ref], exc.field) from exc
            answers[respond.ref] = CollectedAnswer(
                resume_id=event.resume_id, answered_by=event.answered_by, respond=respond
            )
        for restart in event.restart:
            part = pending[restart.ref]
            tool = self._tool(tools, part)
            if not tool.restartable:
                raise _Rejected("not_restartable", f"{tool.name!r} can only be answered", [restart.ref])
            if restart.replaces_input:
                try:
                    tool.check_input(restart.replace_input, restart.ref)
                except ResumeError as exc:
                    raise _Rejected("invalid_input", str(exc), [restart.ref], exc.field) from exc
            answers[restart.ref] = CollectedAnswer(
                resume_id=event.resume_id, answered_by=event.answered_by, restart=restart
            )
        return answers

    async def _recover(self, claimed: _Loaded) -> None:
        """Finish a claim whose worker stopped. If the next step is already durable, repeat its
        event instead of running the tools again."""
        snapshot = claimed.snapshot
        parent = pause_digest(snapshot)
        following = await self._load(snapshot.run_id, snapshot.snapshot_version + 1)
        if following is not None and following.snapshot.parent_sha256 == parent:
            await self._raise(following)
        else:
            result = await self.store.get(result_key(snapshot.run_id))
            if result is None:
                await self._continue(claimed)
                return
            stored = decode_run_result(self.sealer.open(result_key(snapshot.run_id), result.data))
            await self._publish_result(stored.completed, snapshot.request)
        await self._mark_resolved(claimed)

    async def _mark_resolved(self, claimed: _Loaded) -> None:
        resolved = msgspec.structs.replace(claimed.snapshot, status="resolved")
        try:
            await self._replace(claimed, resolved)
        except PreconditionFailed:
            log.info("pause %s/%s was resolved by another worker", resolved.run_id, resolved.snapshot_version)
        await self._drop_marker(resolved)

    # -- expiry -----------------------------------------------------------------------------

    async def sweep_expired(self) -> int:
        """Apply the expiry policy to every pause whose deadline has passed; returns how many.

        Safe to run on every worker at once: each pause changes by conditional write, so only
        one sweeper (or one late resume) acts on it.
        """
        now = self.clock()
        swept = 0
        for key in await self.store.list(EXPIRY_PREFIX):
            deadline, run_id, version = parse_expiry_key(key)
            if deadline > now:
                break  # keys sort by deadline
            loaded = await self._load(run_id, version)
            snapshot = loaded.snapshot if loaded is not None else None
            if loaded is not None and snapshot is not None and snapshot.status == "pending":
                if snapshot.expires_at is not None and snapshot.expires_at <= now:
                    await self._expire(loaded)
                    swept += 1
                elif snapshot.expires_at != deadline:
                    await self.store.delete(key)  # a stray marker from a retried pause
            elif snapshot is None or snapshot.status != "resuming":
                await self.store.delete(key)
        return swept

    async def _create_marker(self, key: str) -> None:
        with contextlib.suppress(PreconditionFailed):  # a retried pause wrote it already
            await self.store.create(key, b"")

    async def _drop_marker(self, snapshot: Snapshot) -> None:
        if snapshot.expires_at is not None:
            await self.store.delete(
                expiry_key(snapshot.expires_at, snapshot.run_id, snapshot.snapshot_version)
            )

    async def _continue(self, claimed: _Loaded) -> None:
        """Run the claimed pause to its next pause or its end, then mark it resolved."""
        snapshot = claimed.snapshot
        request = snapshot.request
        try:
            tools = self._tools(request)
            resume = self._resume(snapshot, {t.name: t for t in tools})
            response = await self.ai.generate(
                messages=snapshot.paused.messages,
                tools=[*tools, *await self._prompt_tools(request)],
                resume=resume,
                context=self._context(request),
                config=request.config,
                max_turns=request.max_turns,
            )
        except IntermissionError as exc:
            await self._fail(request, exc)
        else:
            await self._settle(
                request, response, version=snapshot.snapshot_version + 1, parent=pause_digest(snapshot)
            )
        await self._mark_resolved(claimed)

    def _resume(self, snapshot: Snapshot, tools: Mapping[str, Tool]) -> Resume:
        respond, restart = [], []
        for part in snapshot.paused.interrupts:
            answer = snapshot.answers[part.tool_request.ref or ""]
            tool = self._tool(tools, part)
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

    async def _expire(self, loaded: _Loaded) -> None:
        snapshot = loaded.snapshot
        policy = snapshot.request.expiry
        if policy is not None and policy.on_expiry == "respond":
            answers = dict(snapshot.answers)
            for part in snapshot.paused.interrupts:
                ref = part.tool_request.ref or ""
                if ref not in answers:
                    answers[ref] = CollectedAnswer(
                        resume_id="expiry",
                        answered_by="expiry-policy",
                        respond=_default_answer(ref, policy.default_output),
                    )
            claimed = msgspec.structs.replace(
                snapshot, answers=answers, status="resuming", resumed_by="expiry"
            )
            try:
                etag = await self._replace(loaded, claimed)
            except PreconditionFailed:
                return
            await self._continue(_Loaded(claimed, etag))
            return
        expired = msgspec.structs.replace(snapshot, status="expired")
        try:
            await self._replace(loaded, expired)
        except PreconditionFailed:
            return
        await self._drop_marker(expired)
        failure = RunFailed(
            run_id=snapshot.run_id,
            code="expired",
            message="nobody answered in time",
            tags=snapshot.request.tags,
        )
        await self._publish_result(failure, snapshot.request)

    # -- settling a generation --------------------------------------------------------------

    async def _settle(
        self, request: GenerateRequest, response: GenerateResponse, *, version: int, parent: str | None
    ) -> None:
        if response.finish_reason == "interrupted":
            now = self.clock()
            expires = now + timedelta(seconds=request.expiry.after_seconds) if request.expiry else None
            snapshot = Snapshot(
                run_id=request.run_id,
                snapshot_version=version,
                status="pending",
                request=request,
                paused=response.to_paused(),
                created_at=now,
                expires_at=expires,
                parent_sha256=parent,
            )
            key = snapshot_key(request.run_id, version)
            if expires is not None:
                # The marker goes first: a pause must never exist without its deadline on record.
                await self._create_marker(expiry_key(expires, request.run_id, version))
            try:
                etag = await self.store.create(key, self.sealer.seal(encode(snapshot)))
                loaded = _Loaded(snapshot, etag)
            except PreconditionFailed:
                existing = await self._load(request.run_id, version)
                assert existing is not None
                loaded = existing  # the first writer's pause is the pause
            await self._raise(loaded)
            return
        completed = RunCompleted(
            run_id=request.run_id,
            text=response.text,
            finish_reason=response.finish_reason,
            output=_output(response),
            result_key=result_key(request.run_id),
            tags=request.tags,
        )
        await self._store_result(
            request,
            RunResult(
                run_id=request.run_id, completed=completed, messages=response.messages, parent_sha256=parent
            ),
        )

    async def _store_result(self, request: GenerateRequest, result: RunResult) -> None:
        key = result_key(request.run_id)
        try:
            await self.store.create(key, self.sealer.seal(encode(result)))
        except PreconditionFailed:
            stored = await self.store.get(key)
            assert stored is not None
            result = decode_run_result(self.sealer.open(key, stored.data))
        await self._publish_result(result.completed, request)

    async def _fail(self, request: GenerateRequest, exc: IntermissionError) -> None:
        failure = RunFailed(
            run_id=request.run_id, code=_failure_code(exc), message=str(exc), tags=request.tags
        )
        log.warning("run %s failed: %s", request.run_id, exc)
        await self._store_result(request, RunResult(run_id=request.run_id, completed=failure))

    # -- events -----------------------------------------------------------------------------

    async def _raise(self, loaded: _Loaded) -> None:
        snapshot = loaded.snapshot
        tools = {t.name: t for t in self._tools(snapshot.request)}
        tools.update({t.name: t for t in await self._prompt_tools(snapshot.request)})
        event = InterruptRaised(
            run_id=snapshot.run_id,
            snapshot=SnapshotRef(
                key=snapshot_key(snapshot.run_id, snapshot.snapshot_version),
                version=snapshot.snapshot_version,
                sha256=pause_digest(snapshot),
            ),
            interrupts=[
                _pending(part, tools.get(part.tool_request.name)) for part in snapshot.paused.interrupts
            ],
            created_at=snapshot.created_at,
            expires_at=snapshot.expires_at,
            answered=sorted(snapshot.answers),
            tags=snapshot.request.tags,
        )
        await self.publisher.publish(self.topics.approvals, snapshot.run_id, encode(event))

    async def _reject(self, event: ResumeRequested, rejected: _Rejected) -> None:
        log.info("resume %s of run %s rejected: %s", event.resume_id, event.run_id, rejected.detail)
        message = ResumeRejected(
            run_id=event.run_id,
            resume_id=event.resume_id,
            reason=rejected.reason,
            detail=rejected.detail,
            snapshot_version=event.snapshot_version,
            refs=rejected.refs,
            field=rejected.field,
        )
        await self.publisher.publish(self.topics.results, event.run_id, encode(message))

    async def _publish_result(self, event: RunCompleted | RunFailed, request: GenerateRequest) -> None:
        topic = request.reply_to or self.topics.results
        await self.publisher.publish(topic, request.run_id, encode(event))

    # -- store ------------------------------------------------------------------------------

    async def _load(self, run_id: str, version: int) -> _Loaded | None:
        key = snapshot_key(run_id, version)
        stored: StoredObject | None = await self.store.get(key)
        if stored is None:
            return None
        body = self.sealer.open(key, stored.data)
        return _Loaded(decode_snapshot(body), stored.etag)

    async def _replace(self, loaded: _Loaded, updated: Snapshot) -> str:
        key = snapshot_key(updated.run_id, updated.snapshot_version)
        return await self.store.replace(key, self.sealer.seal(encode(updated)), loaded.etag)

    # -- tools ------------------------------------------------------------------------------

    def _tools(self, request: GenerateRequest) -> list[Tool]:
        """Registry tools named by the request, plus its inline interrupts (no code needed)."""
        tools = [self.ai.tool(name) for name in request.tools]
        names = {t.name for t in tools}
        for definition in request.interrupts:
            if definition.name in names:
                raise UnknownToolError("inline interrupt (name clash)", definition.name)
            cache_key = encode(definition)
            tool = self._inline_tools.get(cache_key)
            if tool is None:
                tool = Tool(
                    name=definition.name,
                    description=definition.description,
                    input_schema=definition.input_schema,
                    output_schema=definition.output_schema,
                )
                if len(self._inline_tools) > 1024:
                    self._inline_tools.clear()
                self._inline_tools[cache_key] = tool
            tools.append(tool)
        return tools

    async def _prompt_tools(self, request: GenerateRequest) -> list[Tool]:
        """Tools a registered prompt brings (they are in the history, so a resume needs them)."""
        if request.prompt is None:
            return []
        own = set(request.tools) | {d.name for d in request.interrupts}
        names = await self.ai.prompt(request.prompt).tool_names()
        return [self.ai.tool(n) for n in names if n not in own]

    def _tool(self, tools: Mapping[str, Tool], part: ToolRequestPart) -> Tool:
        tool = tools.get(part.tool_request.name)
        if tool is None:
            tool = self.ai.tool(part.tool_request.name)
        return tool

    @staticmethod
    def _context(request: GenerateRequest) -> dict[str, Any]:
        # Tools with outside effects key them on (run_id, ctx.ref): a resume that is retried
        # after a crash runs the tool again, and the key lets the tool make that a no-op.
        return {**request.context, "run_id": request.run_id, "tags": request.tags}


def _pending(part: ToolRequestPart, tool: Tool | None) -> PendingInterrupt:
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


def _default_answer(ref: str, output: Any) -> RespondAnswer:
    return RespondAnswer(ref=ref, output=output, metadata={"expired": True})


def _output(response: GenerateResponse) -> Any:
    try:
        return response.output
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
