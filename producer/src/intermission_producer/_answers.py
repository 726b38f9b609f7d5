"""Turn answers into a ResumeRequested, checked against the InterruptRaised they answer.

Pure: no I/O, so every rule can be tested without a broker. The service checks the same rules
again (it is the authority); checking here first turns a round trip through Kafka and a
ResumeRejected into an exception at the call site, naming the field.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msgspec
from intermission_schemas import (
    AnswerProblem,
    AnswerSignature,
    InterruptRaised,
    RespondAnswer,
    RestartAnswer,
    ResumeRequested,
    call_digest,
    check_answers,
    hmac_signature,
    signing_payload,
)

from ._errors import AnswerError, ClientUsageError
from ._requests import check_resume
from ._validation import schema_problem

__all__ = ["AnswerKey", "build_resume"]


@dataclass(frozen=True)
class AnswerKey:
    """A signing key. ``hmac-sha256``: an approval system's shared secret, known to the workers by
    ``key_id``. ``ed25519``: an approver's private key (the 32-byte seed), ``key_id`` being the
    approver, whose public key the workers hold; needs the ``cryptography`` package."""

    key_id: str
    secret: bytes
    algorithm: Literal["hmac-sha256", "ed25519"] = "hmac-sha256"

    def __repr__(self) -> str:  # never print the secret
        return f"AnswerKey(key_id={self.key_id!r})"


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
    signing_key: AnswerKey | None = None,
    valid_for: float = 600.0,
    now: datetime | None = None,
    groups: Sequence[str] = (),
) -> ResumeRequested:
    """The ResumeRequested for these answers, or AnswerError/ClientUsageError before any is sent.

    ``respond`` maps a ref to the interrupt's output; ``restart`` maps a ref to the ``resumed``
    metadata of the restarted tool call; ``replace_input`` maps a restarted ref to its new input.
    ``metadata`` goes on every respond answer. A subset of the pending refs is fine: the service
    collects answers from several approvers until every interrupt is answered.

    With ``signing_key`` the answer is signed (``ResumeRequested.signature``): it binds the run,
    the pause, the resume id, ``answered_by``, the answers and each answered call's tool and input
    as ``raised`` showed them, and holds for ``valid_for`` seconds from ``now``. ``groups``: the
    answerer's groups, as the approval system vouches for them (signed with the answer; a worker
    trusts them only from an HMAC key bound to those groups).

    Publishing the event yourself? Send ``answer_headers(raised)`` as its record headers, so
    the answer joins the run's trace (`IntermissionClient.resume` does that for you).
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

    respond_answers = [
        RespondAnswer(ref=ref, output=_as_json(output, ref, "output"), metadata=metadata)
        for ref, output in respond.items()
    ]
    restart_answers = [
        RestartAnswer(
            ref=ref,
            resumed=resumed,
            replace_input=_as_json(replace_input[ref], ref, "replace_input"),
            replaces_input=True,
        )
        if ref in replace_input
        else RestartAnswer(ref=ref, resumed=resumed)
        for ref, resumed in restart.items()
    ]
    try:
        check_answers(
            raised.interrupts,
            raised.answered,
            respond_answers,
            restart_answers,
            output_problem=lambda interrupt, value: _problem(interrupt.output_schema, value, "output"),
            input_problem=lambda interrupt, value: _problem(interrupt.input_schema, value, "replace_input"),
        )
    except AnswerProblem as problem:
        ref = problem.refs[0] if problem.refs else None
        raise AnswerError(problem.reason, problem.detail, ref=ref, field=problem.field) from None
    event = ResumeRequested(
        run_id=raised.run_id,
        resume_id=resume_id or uuid.uuid4().hex,
        snapshot_version=raised.snapshot.version,
        respond=respond_answers,
        restart=restart_answers,
        answered_by=answered_by,
        # Binds the answer to the pause the approver was shown: the worker refuses a stored
        # pause whose content differs.
        pause_digest=raised.snapshot.sha256,
        answered_groups=list(groups),
    )
    check_resume(event)
    if signing_key is None:
        return event
    by_ref = {interrupt.ref: interrupt for interrupt in raised.interrupts}
    issued = now or datetime.now(UTC)
    calls = {
        ref: call_digest(by_ref[ref].tool, by_ref[ref].input)
        for ref in [a.ref for a in respond_answers] + [a.ref for a in restart_answers]
    }
    expires = issued + timedelta(seconds=valid_for)
    if signing_key.algorithm == "ed25519":
        signature = _ed25519_signature(event, signing_key, issued, expires, calls)
    else:
        signature = hmac_signature(
            event,
            signing_key.secret,
            key_id=signing_key.key_id,
            issued_at=issued,
            expires_at=expires,
            calls=calls,
        )
    return msgspec.structs.replace(event, signature=signature)


def _ed25519_signature(
    event: ResumeRequested, key: AnswerKey, issued: datetime, expires: datetime, calls: dict[str, str]
) -> AnswerSignature:
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError as exc:  # an optional dependency of the SDK
        raise ClientUsageError("Ed25519 answer keys need the cryptography package") from exc
    payload = signing_payload(event, key_id=key.key_id, issued_at=issued, expires_at=expires, calls=calls)
    value = Ed25519PrivateKey.from_private_bytes(key.secret).sign(payload).hex()
    return AnswerSignature(
        key_id=key.key_id, algorithm="ed25519", issued_at=issued, expires_at=expires, calls=calls, value=value
    )


def _problem(schema: dict[str, Any] | None, value: Any, what: str) -> tuple[str, str] | None:
    problem = schema_problem(schema, value)
    if problem is None:
        return None
    field, message = problem
    return field, f"{what} does not match the published schema: {message}"


def _as_json(value: Any, ref: str, what: str) -> Any:
    """The value as it will travel: validating the wire form means a tuple counts as an array
    and a datetime as a string, exactly as the service will see them."""
    try:
        return msgspec.json.decode(_encoder.encode(value))
    except (TypeError, msgspec.EncodeError) as exc:
        raise ClientUsageError(f"{what} for interrupt {ref!r} is not JSON-serialisable: {exc}") from exc
