"""Deliver dead-lettered webhooks again: same webhook id, same body (rebuilt from the event as
it was on its topic, with today's inbox URL), to the subscription as the file now says it. One
attempt each: what fails stays on the dead-letter topic for the next try."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import msgspec

from .deadletters import WebhookLetterEntry
from .delivery import Delivered, Permanent, Retryable, Sender
from .events import decode_hook_event
from .payload import body
from .subscriptions import Subscription

__all__ = ["WebhookRedriveCounts", "redrive_webhooks"]


class WebhookRedriveCounts(msgspec.Struct, kw_only=True):
    delivered: int = 0
    failed: int = 0
    errors: list[str] = []


async def redrive_webhooks(
    entries: Iterable[WebhookLetterEntry],
    subscriptions: Mapping[str, Subscription],
    sender: Sender,
    inbox_url: str | None,
    on_progress: Callable[[WebhookLetterEntry, str], None] | None = None,
) -> WebhookRedriveCounts:
    counts = WebhookRedriveCounts()
    for entry in entries:
        letter = entry.letter
        outcome = "delivered"
        subscription = subscriptions.get(letter.subscription)
        event = decode_hook_event(letter.value, approvals=letter.event_type == "InterruptRaised")
        if subscription is None:
            outcome = f"failed: no subscription {letter.subscription!r} in the webhooks file"
        elif event is None:
            outcome = "failed: the event no longer decodes"
        else:
            attempt = await sender.attempt(
                subscription, letter.webhook_id, body(event, letter.event_at, inbox_url)
            )
            match attempt:
                case Delivered():
                    pass
                case Retryable(error=error) | Permanent(error=error):
                    outcome = f"failed: {error}"
        if outcome == "delivered":
            counts.delivered += 1
        else:
            counts.failed += 1
            counts.errors.append(f"{entry.id}: {outcome}")
        if on_progress is not None:
            on_progress(entry, outcome)
    return counts
