"""What a webhook POSTs: a Standard Webhooks body ``{"type", "timestamp", "data"}`` and its id.

``data`` is the event as it is on its topic, except that each pending interrupt's resume
token becomes its ``answerUrl`` (``{inbox}/api/answer/{token}``): a ticket or a chat message
answers the call by POSTing ``{"resumed": ...}`` or ``{"output": ...}`` there, with no other
credentials. The body is the same bytes on every attempt, so a receiver may hash it too.

The webhook id is stable per (subscription, event): the same pause announced twice (a worker
re-publishing after a crash) has one id, so a receiver that de-duplicates by id acts once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, assert_never

import msgspec
from intermission_schemas import InterruptRaised, ResumeRejected, RunCompleted, RunFailed

from .events import HookEvent

__all__ = ["answer_url", "body", "webhook_id"]


def webhook_id(subscription: str, event: HookEvent) -> str:
    match event:
        case InterruptRaised():
            # A partial answer re-announces the same pause with more refs answered: a new event.
            which = f"{event.snapshot.version}:{','.join(sorted(event.answered))}"
        case RunCompleted() | RunFailed():
            which = ""  # a run ends once
        case ResumeRejected():
            which = event.resume_id
        case _:
            assert_never(event)
    kind = type(event).__name__
    digest = hashlib.sha256(f"{subscription}\n{kind}\n{event.run_id}\n{which}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


def answer_url(inbox_url: str | None, token: str | None) -> str | None:
    if inbox_url is None or token is None:
        return None
    return f"{inbox_url.rstrip('/')}/api/answer/{token}"


def body(event: HookEvent, at: datetime, inbox_url: str | None) -> bytes:
    data: dict[str, Any] = msgspec.to_builtins(event)
    if isinstance(event, InterruptRaised):
        for shown, pending in zip(data["interrupts"], event.interrupts, strict=True):
            # The bare token is a credential of its own: send it only inside its URL.
            shown.pop("token", None)
            shown["answerUrl"] = answer_url(inbox_url, pending.token)
    document = {"type": type(event).__name__, "timestamp": at.isoformat(), "data": data}
    return msgspec.json.encode(document)
