"""The events a webhook carries: an approval (InterruptRaised) or an outcome from the results
topic, decoded from a record. A record that is not one of them is not for webhooks: the worker
dead-letters what it cannot read, so the dispatcher only skips it."""

from __future__ import annotations

from typing import TypeAlias

from intermission_schemas import (
    EventDecodeError,
    InterruptRaised,
    ResumeRejected,
    RunCompleted,
    RunFailed,
    decode_approval,
    decode_result,
)

__all__ = ["HookEvent", "Outcome", "decode_hook_event"]

Outcome: TypeAlias = RunCompleted | RunFailed | ResumeRejected
HookEvent: TypeAlias = InterruptRaised | Outcome


def decode_hook_event(value: bytes, *, approvals: bool) -> HookEvent | None:
    try:
        return decode_approval(value) if approvals else decode_result(value)
    except (EventDecodeError, UnicodeDecodeError):
        return None
