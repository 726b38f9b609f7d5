"""Answering a pause over HTTP: the body, the checks, the publish, and the outcome.

The checks are the producer SDK's own (`intermission_producer.build_resume`, which runs
`intermission_schemas.check_answers` against the published JSON Schemas), so the inbox refuses
exactly what the SDK refuses; the worker checks again and stays the authority.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from intermission_producer import (
    AnswerError,
    AnswerKey,
    ClientUsageError,
    Transport,
    answer_headers,
    build_resume,
)
from intermission_schemas import ResumeRequested, Topics, encode

from ..service.runs.tokens import InvalidToken, ResumeTokens
from .view import PendingView, RunState

__all__ = ["AnswerBody", "Refused", "TokenBody", "answer", "answer_token", "outcome"]


class AnswerBody(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """``respond``: ref -> output; ``restart``: ref -> the ``resumed`` metadata of the re-run;
    ``replaceInput``: ref -> new input of a restarted ref. Any subset of the open refs."""

    snapshot_version: int | None = None
    respond: dict[str, Any] = {}
    restart: dict[str, Any] = {}
    replace_input: dict[str, Any] = {}
    metadata: Any = None
    resume_id: str | None = None


class TokenBody(msgspec.Struct, kw_only=True, rename="camel", forbid_unknown_fields=True):
    """A token's answer: ``output`` responds; ``resumed`` (with ``replaceInput``) restarts."""

    output: Any = msgspec.UNSET
    resumed: Any = msgspec.UNSET
    replace_input: Any = msgspec.UNSET


class Refused(Exception):
    """An answer the inbox will not send: an HTTP status and a JSON body that says why."""

    def __init__(self, status: int, reason: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.body: dict[str, Any] = {"reason": reason, "detail": detail, **extra}


def open_run(view: PendingView, run_id: str, version: int | None) -> RunState:
    state = view.get(run_id)
    if state is None:
        raise Refused(404, "unknown_run", f"no run {run_id!r}")
    status = state.status(datetime.now(UTC))
    if status == "expired":
        raise Refused(410, "expired", f"the pause of run {run_id!r} expired")
    if status != "pending" or state.raised is None:
        raise Refused(409, "not_pending", f"run {run_id!r} is {status}: nothing to answer")
    if version is not None and version != state.raised.snapshot.version:
        raise Refused(409, "stale", f"pause {version} is not the open one ({state.raised.snapshot.version})")
    return state


async def answer(
    view: PendingView,
    transport: Transport,
    topics: Topics,
    run_id: str,
    body: AnswerBody,
    answered_by: str,
    signing_key: AnswerKey | None = None,
    groups: Sequence[str] = (),
) -> ResumeRequested:
    """Check ``body`` against the run's open pause as the SDK does, then publish it. The
    answerer's ``groups`` travel only in a signed answer: the worker trusts them from nothing
    else."""
    state = open_run(view, run_id, body.snapshot_version)
    assert state.raised is not None
    try:
        event = build_resume(
            state.raised,
            respond=body.respond,
            restart=body.restart,
            replace_input=body.replace_input,
            answered_by=answered_by,
            resume_id=body.resume_id,
            metadata=body.metadata,
            signing_key=signing_key,
            groups=groups if signing_key is not None else (),
        )
    except AnswerError as exc:
        status = 409 if exc.reason == "duplicate" else 422
        raise Refused(status, exc.reason, exc.detail, ref=exc.ref, field=exc.field) from None
    except ClientUsageError as exc:
        if exc.reason is not None:  # the worker would dead-letter it: a field out of bounds
            raise Refused(422, "invalid_body", str(exc)) from None
        raise Refused(400, "bad_request", str(exc)) from None
    # The answer joins the run's trace (the context its InterruptRaised carries).
    await transport.publish(topics.resumes, run_id, encode(event), answer_headers(state.raised))
    return event


async def answer_token(
    view: PendingView,
    transport: Transport,
    topics: Topics,
    tokens: ResumeTokens | None,
    token: str,
    body: TokenBody,
    signing_key: AnswerKey | None = None,
    holder: str | None = None,
    groups: Sequence[str] = (),
) -> ResumeRequested:
    """Redeem a resume token: the token names the run, pause and ref; ``body`` only the answer.
    ``holder`` is the authenticated caller, who answers; without one the token itself does."""
    if tokens is None:
        raise Refused(404, "no_tokens", "this inbox has no resume token secret configured")
    try:
        claims = tokens.open(token)
    except InvalidToken as exc:
        raise Refused(403, "invalid_token", str(exc)) from None
    if claims.expired(datetime.now(UTC)):
        raise Refused(410, "expired", "the token expired with its pause")
    state = view.get(claims.run_id)
    if state is not None and _in_use(state, claims.resume_id):
        raise Refused(409, "used", "this token was used already")
    has_output = body.output is not msgspec.UNSET
    has_restart = body.resumed is not msgspec.UNSET or body.replace_input is not msgspec.UNSET
    if has_output == has_restart:
        raise Refused(400, "bad_request", "give either output (respond) or resumed/replaceInput (restart)")
    try:
        state = open_run(view, claims.run_id, None)
    except Refused as refused:
        if refused.status == 409 or (state is not None and state.raised is not None):
            # The pause this token belonged to is over: the token went with it.
            raise Refused(410, "expired", f"the token's pause is over ({refused.body['detail']})") from None
        raise
    assert state.raised is not None
    if state.raised.snapshot.version != claims.snapshot_version:
        raise Refused(410, "expired", "the token's pause is over (the run moved on)")
    if claims.ref in state.raised.answered:
        raise Refused(409, "used", f"ref {claims.ref!r} is already answered")
    answer_body = AnswerBody(snapshot_version=claims.snapshot_version, resume_id=claims.resume_id)
    if has_output:
        answer_body.respond = {claims.ref: body.output}
    else:
        answer_body.restart = {claims.ref: None if body.resumed is msgspec.UNSET else body.resumed}
        if body.replace_input is not msgspec.UNSET:
            answer_body.replace_input = {claims.ref: body.replace_input}
    who = holder or f"token:{claims.ref}"
    tried = _attempts(state, claims.resume_id)
    sent = await answer(
        view, transport, topics, claims.run_id, answer_body, who, signing_key, groups if holder else ()
    )
    # Until the log echoes this answer back, the view holds only earlier (rejected) tries of
    # the token, and ``outcome`` would report their verdict as this one's.
    await view.wait_for(lambda: _attempts(state, claims.resume_id) > tried, 5)
    return sent


def _attempts(state: RunState, resume_id: str) -> int:
    return sum(r.resume_id == resume_id for r in state.resumes)


def _rejected(state: RunState, resume_id: str) -> int:
    return sum(r.resume_id == resume_id for r in state.rejections)


def _in_use(state: RunState, resume_id: str) -> bool:
    """A token's answer applied, or sent with no verdict yet. One the worker rejected left the
    pause open, and the worker never records a rejected resume id as applied: the token may
    answer again."""
    return _attempts(state, resume_id) > _rejected(state, resume_id)


def outcome(state: RunState, event: ResumeRequested) -> dict[str, Any] | None:
    """What became of a resume, as the topics tell: None while the worker has not acted."""
    # One resume id can be sent again after a rejection (a resume token's): only a rejection
    # for each try seen so far is this try's.
    verdicts = [r for r in state.rejections if r.resume_id == event.resume_id]
    if verdicts and not _in_use(state, event.resume_id):
        rejected = verdicts[-1]
        return {
            "outcome": "rejected",
            "reason": rejected.reason,
            "detail": rejected.detail,
            "field": rejected.field,
            "refs": rejected.refs,
        }
    refs = {a.ref for a in event.respond} | {a.ref for a in event.restart}
    raised = state.raised
    moved = state.result is not None or (
        raised is not None
        and (raised.snapshot.version > event.snapshot_version or refs <= set(raised.answered))
    )
    return {"outcome": "accepted"} if moved else None
