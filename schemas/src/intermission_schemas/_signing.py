"""Signed answers: the canonical bytes an approval system signs and a worker verifies.

One function builds the payload on both sides, so they cannot disagree on what is covered:
the run, the pause (snapshot version and pause digest), the resume id, who answered, when the
signature was issued and until when it holds, every answer, and for every answered ref the
digest of the tool name and the exact input the approver was shown (``call_digest``). A worker
recomputes each call digest from its stored pause: an answer approved for other arguments than
the ones that would run is refused (``input_mismatch``).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

import msgspec

from ._events import AnswerSignature, ResumeRequested

__all__ = ["call_digest", "hmac_signature", "signing_payload"]

_canonical = msgspec.json.Encoder(order="sorted")
_CONTEXT = b"intermission-answer/1\n"


def call_digest(tool: str, input: Any) -> str:
    """sha256 of the canonical JSON of ``[tool, input]``."""
    return hashlib.sha256(_canonical.encode([tool, input])).hexdigest()


def signing_payload(
    event: ResumeRequested, *, key_id: str, issued_at: datetime, expires_at: datetime, calls: dict[str, str]
) -> bytes:
    """The bytes an answer's signature covers (its own ``signature`` field aside)."""
    body = {
        "runId": event.run_id,
        "snapshotVersion": event.snapshot_version,
        "pauseDigest": event.pause_digest,
        "resumeId": event.resume_id,
        "answeredBy": event.answered_by,
        "keyId": key_id,
        "issuedAt": issued_at.isoformat(),
        "expiresAt": expires_at.isoformat(),
        "calls": calls,
        "respond": msgspec.to_builtins(event.respond),
        "restart": msgspec.to_builtins(event.restart),
    }
    if event.answered_groups:
        # Only when present, so the bytes of an answer without groups are what they always were.
        body["answeredGroups"] = event.answered_groups
    return _CONTEXT + _canonical.encode(body)


def hmac_signature(
    event: ResumeRequested,
    secret: bytes,
    *,
    key_id: str,
    issued_at: datetime,
    expires_at: datetime,
    calls: dict[str, str],
) -> AnswerSignature:
    payload = signing_payload(event, key_id=key_id, issued_at=issued_at, expires_at=expires_at, calls=calls)
    return AnswerSignature(
        key_id=key_id,
        issued_at=issued_at,
        expires_at=expires_at,
        calls=calls,
        value=hmac.new(secret, payload, hashlib.sha256).hexdigest(),
    )
