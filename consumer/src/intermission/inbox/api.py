"""The HTTP API for approval systems that do not speak Kafka, and the JSON it answers with.

Every write goes through the same checks as the producer SDK (``check_request`` for a request,
``build_resume`` for an answer) before anything is published; a body that fails them gets a
4xx with ``{"reason", "detail", ...}`` and nothing is stored.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from intermission_producer import ClientUsageError
from intermission_producer._requests import check_request
from intermission_schemas import GenerateRequest, InterruptRaised, encode, reply_topic_problem
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from .answers import AnswerBody, Refused, TokenBody, answer, answer_token, outcome
from .context import Inbox
from .identity import Identity, identity_of, may_answer
from .view import RunState

__all__ = ["ROUTES"]


def _error(refused: Refused) -> JSONResponse:
    return JSONResponse(refused.body, status_code=refused.status)


async def _body(request: Request, kind: type[Any]) -> Any:
    # Capped already: web/bodies.py reads at most INTERMISSION_INBOX_MAX_BODY_BYTES before any
    # handler runs, and only JSON gets past web/gate.py.
    raw = await request.body()
    try:
        return msgspec.json.decode(raw or b"{}", type=kind)
    except msgspec.ValidationError as exc:
        raise Refused(422, "invalid_body", str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # invalid UTF-8 in a string: the latter
        raise Refused(400, "not_json", f"the body is not JSON: {exc}") from None


def _refusal(exc: ClientUsageError) -> str:
    return "schema_too_complex" if exc.reason == "schema_too_complex" else "invalid_body"


def _pending_json(raised: InterruptRaised, state: RunState, caller: Identity) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(raised)
    data["open"] = [i.ref for i in state.open_interrupts()]
    # A token answers with no further check by the inbox: only those who may answer its call
    # see it.
    for interrupt in data["interrupts"]:
        if state.request is None or not may_answer(caller, state.request, interrupt["tool"]):
            interrupt.pop("token", None)
    return data


def run_json(state: RunState, caller: Identity) -> dict[str, Any]:
    status = state.status(datetime.now(UTC))
    pending = state.raised if status == "pending" else None
    return {
        "runId": state.run_id,
        "status": status,
        "pending": _pending_json(pending, state, caller) if pending else None,
        "result": msgspec.to_builtins(state.result) if state.result is not None else None,
        "rejections": msgspec.to_builtins(state.rejections),
        "deadLetters": [
            {"topic": d.topic, "offset": d.offset, "reason": d.reason, "detail": d.detail}
            for d in state.dead_letters
        ],
        "answers": [
            {"resumeId": r.resume_id, "answeredBy": r.answered_by, "snapshotVersion": r.snapshot_version}
            for r in state.resumes
        ],
    }


def _state(inbox: Inbox, run_id: str) -> RunState:
    state = inbox.view.get(run_id)
    if state is None:
        raise Refused(404, "unknown_run", f"no run {run_id!r}")
    return state


def _token_holder(caller: Identity) -> str | None:
    """Who a token's answer is from: the caller, once the inbox knows callers (dev: the token)."""
    return None if caller.method == "dev" else caller.name


def _wait_seconds(request: Request) -> float:
    try:
        return max(0.0, min(float(request.query_params.get("wait", "0")), 30.0))
    except ValueError:
        raise Refused(400, "bad_request", "wait must be a number of seconds") from None


async def list_pending(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox
    caller = identity_of(request)
    items = [_pending_json(s.raised, s, caller) for s in inbox.view.pending() if s.raised is not None]
    return JSONResponse({"pending": items})


async def get_run(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox
    try:
        return JSONResponse(run_json(_state(inbox, request.path_params["run_id"]), identity_of(request)))
    except Refused as refused:
        return _error(refused)


async def get_run_pending(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox
    try:
        state = _state(inbox, request.path_params["run_id"])
    except Refused as refused:
        return _error(refused)
    if state.raised is None or state.status(datetime.now(UTC)) != "pending":
        return _error(Refused(404, "not_pending", f"run {state.run_id!r} has no open pause"))
    return JSONResponse(_pending_json(state.raised, state, identity_of(request)))


async def submit_run(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox
    try:
        raw = await _body(request, dict[str, Any])
        raw.setdefault("runId", f"run-{uuid.uuid4().hex[:12]}")
        raw.setdefault("idempotencyKey", raw["runId"])
        raw.pop("type", None)
        caller = identity_of(request)
        # Who asked is the caller the inbox authenticated, never what the body says: the worker
        # refuses that person's own approval (self_approval). Dev has one identity for everyone.
        if caller.method != "dev" and raw.setdefault("requestedBy", caller.name) != caller.name:
            raise Refused(422, "invalid_body", "requestedBy is the caller; leave it out")
        try:
            event = msgspec.convert(raw, type=GenerateRequest)
        except msgspec.ValidationError as exc:
            raise Refused(422, "invalid_body", str(exc)) from None
        try:
            check_request(event)  # the worker's own decoder: what it would dead-letter stops here
        except ClientUsageError as exc:
            raise Refused(422, _refusal(exc), str(exc)) from None
        if event.reply_to is not None and (
            problem := reply_topic_problem(event.reply_to, inbox.topics, inbox.reply_topics)
        ):
            raise Refused(422, "invalid_body", problem)
        if unknown := [t for t in event.tools if t not in inbox.tools]:
            raise Refused(422, "unknown_tool", f"no tool(s) {unknown} (known: {sorted(inbox.tools)})")
        if event.run_id in inbox.view.runs:
            raise Refused(409, "exists", f"run {event.run_id!r} exists already")
    except Refused as refused:
        return _error(refused)
    await inbox.transport.publish(inbox.topics.requests, event.run_id, encode(event))
    return JSONResponse({"runId": event.run_id}, status_code=202)


async def _answered(inbox: Inbox, request: Request, sent: Any) -> Response:
    wait = _wait_seconds(request)
    state = inbox.view.get(sent.run_id)
    found = None
    if wait and state is not None:
        await inbox.view.wait_for(lambda: outcome(state, sent) is not None, wait)
        found = outcome(state, sent)
    body = {"runId": sent.run_id, "resumeId": sent.resume_id, **(found or {"outcome": "sent"})}
    return JSONResponse(body, status_code=200 if found else 202)


async def post_answers(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox
    try:
        body = await _body(request, AnswerBody)
        caller = identity_of(request)
        _wait_seconds(request)
        sent = await answer(
            inbox.view,
            inbox.transport,
            inbox.topics,
            request.path_params["run_id"],
            body,
            caller.name,
            inbox.signing_key,
            caller.groups,
        )
    except Refused as refused:
        return _error(refused)
    return await _answered(inbox, request, sent)


async def post_token(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox
    try:
        body = await _body(request, TokenBody)
        _wait_seconds(request)
        async with inbox.token_lock:  # two calls with one token in this inbox: one goes through
            sent = await answer_token(
                inbox.view,
                inbox.transport,
                inbox.topics,
                inbox.tokens,
                request.path_params["token"],
                body,
                inbox.signing_key,
                _token_holder(identity_of(request)),
                identity_of(request).groups,
            )
            state = inbox.view.get(sent.run_id)
            if state is not None:  # seen as used at once, before the log echoes it back
                await inbox.view.wait_for(
                    lambda: any(r.resume_id == sent.resume_id for r in state.resumes), 5
                )
    except Refused as refused:
        return _error(refused)
    return await _answered(inbox, request, sent)


async def events(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox

    closing: asyncio.Event = request.app.state.closing

    async def stream() -> Any:
        async with inbox.view.changes() as changes:
            yield ": live\n\n"
            while not closing.is_set():
                getting = asyncio.ensure_future(changes.get())
                ending = asyncio.ensure_future(closing.wait())
                await asyncio.wait({getting, ending}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
                ending.cancel()
                if not getting.done():
                    getting.cancel()
                    yield ": keep-alive\n\n"
                    continue
                yield f"data: {msgspec.json.encode({'runId': getting.result()}).decode()}\n\n"

    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


ROUTES: list[tuple[str, Any, list[str]]] = [
    ("/api/pending", list_pending, ["GET"]),
    ("/api/runs", submit_run, ["POST"]),
    ("/api/runs/{run_id}", get_run, ["GET"]),
    ("/api/runs/{run_id}/pending", get_run_pending, ["GET"]),
    ("/api/runs/{run_id}/answers", post_answers, ["POST"]),
    ("/api/answer/{token}", post_token, ["POST"]),
    ("/api/events", events, ["GET"]),
]
