"""Turn answers into a ResumeRequested, checked against the InterruptRaised they answer.

Pure: no I/O, so every rule can be tested without a broker. The service checks the same rules
again (it is the authority); checking here first turns a round trip through Kafka and a
ResumeRejected into an exception at the call site, naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Literal

import msgspec
from intermission_schemas import (
    InterruptRaised,
    PendingInterrupt,
    RespondAnswer,
    RestartAnswer,
    ResumeRequested,
)

from ._errors import AnswerError, ClientUsageError
from ._validation import schema_problem

__all__ = ["build_resume"]

_encoder = msgspec.json.Encoder()


def build_resume(
    raised: InterruptRaised,
    *,
    respond: Mapping[str, Any] | None = None,
    restart: Mapping[str, Any] | None = None,
    replace_input: Mapping[str, Any] | None = None,
    answered_by: str,
    resume_id: str | None = None,
    metadata: Any = None,
) -> ResumeRequested:
    """The ResumeRequested for these answers, or AnswerError/ClientUsageError before any is sent.

    ``respond`` maps a ref to the interrupt's output; ``restart`` maps a ref to the ``resumed``
    metadata of the restarted tool call; ``replace_input`` maps a restarted ref to its new input.
    ``metadata`` goes on every respond answer. A subset of the pending refs is fine: the service
    collects answers from several approvers until every interrupt is answered.
    """
    respond = respond or {}
    restart = restart or {}
    replace_input = replace_input or {}
    if not answered_by:
        raise ClientUsageError("answered_by is required: it is the audit trail of who decided")
    if resume_id is not None and not resume_id:
        raise ClientUsageError("resume_id must be non-empty (or None for a fresh one)")
    if not respond and not restart:
        raise ClientUsageError("a resume needs at least one respond or restart answer")
    if stray := [ref for ref in replace_input if ref not in restart]:
        raise ClientUsageError(f"replace_input names refs that are not restarted: {stray}")

    pending = {interrupt.ref: interrupt for interrupt in raised.interrupts}
    answered = set(raised.answered)
    respond_answers: list[RespondAnswer] = []
    for ref, output in respond.items():
        interrupt = _answerable(ref, pending, answered)
        if ref in restart:
            raise AnswerError("duplicate", "answered twice in one resume (respond and restart)", ref=ref)
        wire_output = _as_json(output, ref, "output")
        _check(interrupt.output_schema, wire_output, "invalid_output", ref, "output")
        respond_answers.append(RespondAnswer(ref=ref, output=wire_output, metadata=metadata))

    restart_answers: list[RestartAnswer] = []
    for ref, resumed in restart.items():
        interrupt = _answerable(ref, pending, answered)
        if not interrupt.restartable:
            raise AnswerError("not_restartable", f"tool {interrupt.tool!r} cannot be restarted", ref=ref)
        if ref in replace_input:
            new_input = _as_json(replace_input[ref], ref, "replace_input")
            _check(interrupt.input_schema, new_input, "invalid_input", ref, "replace_input")
            restart_answers.append(
                RestartAnswer(ref=ref, resumed=resumed, replace_input=new_input, replaces_input=True)
            )
        else:
            restart_answers.append(RestartAnswer(ref=ref, resumed=resumed))

    return ResumeRequested(
        run_id=raised.run_id,
        resume_id=resume_id or uuid.uuid4().hex,
        snapshot_version=raised.snapshot.version,
        respond=respond_answers,
        restart=restart_answers,
        answered_by=answered_by,
    )


def _answerable(ref: str, pending: Mapping[str, PendingInterrupt], answered: set[str]) -> PendingInterrupt:
    interrupt = pending.get(ref)
    if interrupt is None:
        known = ", ".join(sorted(pending)) or "none"
        raise AnswerError("unknown_ref", f"not an interrupt of this pause (pending: {known})", ref=ref)
    if ref in answered:
        raise AnswerError("duplicate", "already answered by an earlier resume", ref=ref)
    return interrupt


def _as_json(value: Any, ref: str, what: str) -> Any:
    """The value as it will travel: validating the wire form means a tuple counts as an array
    and a datetime as a string, exactly as the service will see them."""
    try:
        return msgspec.json.decode(_encoder.encode(value))
    except (TypeError, msgspec.EncodeError) as exc:
        raise ClientUsageError(f"{what} for interrupt {ref!r} is not JSON-serialisable: {exc}") from exc


def _check(
    schema: dict[str, Any] | None,
    value: Any,
    reason: Literal["invalid_output", "invalid_input"],
    ref: str,
    what: str,
) -> None:
    problem = schema_problem(schema, value)
    if problem is not None:
        field, message = problem
        raise AnswerError(
            reason, f"{what} does not match the published schema: {message}", ref=ref, field=field
        )
