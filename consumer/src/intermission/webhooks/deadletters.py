"""Webhooks that could not be delivered, on their own dead-letter topic.

Each letter holds the event's record as it was on its topic, the subscription it was for, the
webhook id and the last error: enough for `intermission dlq webhooks redrive` to deliver the
same webhook again (same id, same body) once the receiver is fixed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from intermission_producer import Transport

from ..service.ports import Publisher

__all__ = ["WebhookDeadLetter", "WebhookLetterEntry", "publish_dead_letter", "read_webhook_dead_letters"]


class WebhookDeadLetter(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag=True):
    subscription: str
    webhook_id: str
    event_type: str
    run_id: str
    topic: str  # where the event is: its record stays there too
    partition: int
    offset: int
    value: bytes  # the event's record value
    event_at: datetime  # the record's time: the body's timestamp
    attempts: int
    last_error: str
    first_attempt_at: datetime


class WebhookLetterEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # "{partition}:{offset}" on the webhook dead-letter topic
    at: datetime
    letter: WebhookDeadLetter


async def publish_dead_letter(publisher: Publisher, topic: str, letter: WebhookDeadLetter) -> None:
    await publisher.publish(topic, letter.run_id, msgspec.json.encode(letter))


_decoder = msgspec.json.Decoder(WebhookDeadLetter)


async def read_webhook_dead_letters(
    transport: Transport, topic: str, *, subscription: str | None = None
) -> list[WebhookLetterEntry]:
    """Every webhook dead letter up to the topic's end now, oldest first per partition."""
    found: list[WebhookLetterEntry] = []
    async with transport.read([topic], start="beginning", until_end=True) as records:
        async for record in records:
            if record.value is None:
                continue
            try:
                letter = _decoder.decode(record.value)
            except (msgspec.DecodeError, UnicodeDecodeError):
                continue
            if subscription is not None and letter.subscription != subscription:
                continue
            at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            found.append(WebhookLetterEntry(id=f"{record.partition}:{record.offset}", at=at, letter=letter))
    return found
