"""The dead-letter topic, read and re-driven through the producer SDK's `Transport`.

    async with KafkaTransport("kafka:9092") as transport:
        letters = await read_dead_letters(transport, Topics().dead_letter, reasons={"invalid"})
        counts = await redrive(transport, letters[:1], edit=set_fields({"maxTurns": 5}))

A re-driven record goes back to the topic it was read from, with its key, as the original
bytes or an edited copy. Re-driving is safe to repeat: the service drops requests by
idempotency key and resumes by resume id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from intermission_producer import Transport
from intermission_schemas import DeadLetter, EventDecodeError, decode_dead_letter

__all__ = ["DeadLetterEntry", "RedriveCounts", "read_dead_letters", "redrive", "set_fields"]


class DeadLetterEntry(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # "{partition}:{offset}" on the dead-letter topic
    at: datetime  # when it was dead-lettered (the record's timestamp)
    letter: DeadLetter

    @property
    def key(self) -> str:
        return (self.letter.key or b"").decode("utf-8", "replace")


class RedriveCounts(msgspec.Struct, kw_only=True):
    sent: int = 0
    would_send: int = 0  # --dry-run
    edited: int = 0
    skipped_truncated: int = 0  # the original bytes were cut to fit: re-drive only with a new value
    failed: int = 0
    errors: list[str] = []


async def read_dead_letters(
    transport: Transport,
    topic: str,
    *,
    reasons: Collection[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[DeadLetterEntry]:
    """Every dead letter up to the topic's end now, oldest first per partition, filtered."""
    found: list[DeadLetterEntry] = []
    async with transport.read([topic], start="beginning", until_end=True) as records:
        async for record in records:
            if record.value is None:
                continue
            try:
                letter = decode_dead_letter(record.value)
            except EventDecodeError:
                continue
            at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
            if reasons and letter.reason not in reasons:
                continue
            if (since is not None and at < since) or (until is not None and at >= until):
                continue
            found.append(DeadLetterEntry(id=f"{record.partition}:{record.offset}", at=at, letter=letter))
    return found


def set_fields(fields: Mapping[str, Any]) -> Callable[[DeadLetterEntry], bytes]:
    """An edit that sets top-level or dotted fields (``"expiry.afterSeconds"``) of a JSON value."""

    def edit(entry: DeadLetterEntry) -> bytes:
        document = json.loads(entry.letter.value)
        if not isinstance(document, dict):
            raise ValueError("the dead letter's value is not a JSON object")
        for path, value in fields.items():
            *parents, last = path.split(".")
            target = document
            for name in parents:
                target = target.setdefault(name, {})
            target[last] = value
        return json.dumps(document, ensure_ascii=False).encode()

    return edit


async def redrive(
    transport: Transport,
    entries: Iterable[DeadLetterEntry],
    *,
    edit: Callable[[DeadLetterEntry], bytes] | None = None,
    dry_run: bool = False,
    on_progress: Callable[[DeadLetterEntry, str], None] | None = None,
    on_would_send: Callable[[DeadLetterEntry, bytes], None] | None = None,
) -> RedriveCounts:
    """Publish each entry's value (or ``edit(entry)``) to its original topic, one by one, in
    order; ``on_progress(entry, outcome)`` after each. In a dry run, ``on_would_send(entry,
    value)`` gets exactly the bytes a re-drive would publish (the edit applied)."""
    counts = RedriveCounts()
    for entry in entries:
        letter = entry.letter
        outcome = "sent"
        try:
            if edit is not None:
                value = edit(entry)
                counts.edited += 1
            elif letter.truncated:
                value = b""
                outcome = "skipped (truncated)"
                counts.skipped_truncated += 1
            else:
                value = letter.value
            if outcome == "sent":
                if dry_run:
                    outcome = "would send"
                    counts.would_send += 1
                    if on_would_send is not None:
                        on_would_send(entry, value)
                else:
                    await transport.publish(letter.topic, entry.key, value)
                    counts.sent += 1
        except Exception as exc:  # an edit that does not apply, a broker error: count, go on
            outcome = f"failed: {exc}"
            counts.failed += 1
            counts.errors.append(f"{entry.id}: {exc}")
        if on_progress is not None:
            on_progress(entry, outcome)
    return counts
