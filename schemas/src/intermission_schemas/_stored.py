"""A snapshot at rest: the same ``Snapshot``, with its history stored once.

A run's request usually carries the history it starts from (``request.messages``), and every
pause of the run stores that history again at the start of ``paused.messages``. Stored as is, a
snapshot holds the history twice. ``encode_snapshot`` writes a ``StoredSnapshot`` instead: the
snapshot with ``request.messages`` left out, plus where they sit in ``paused.messages``;
``decode_snapshot`` puts them back. What a reader gets is the ``Snapshot`` that was written, equal
field for field and encoding to the same bytes, so its pause digest is unchanged.

Stored-form rules (beside the schema-change rules of ``_documents``):
1. Every form ever written keeps decoding: a body tagged ``Snapshot`` (written before this form)
   and a body tagged ``StoredSnapshot`` both decode to a ``Snapshot``. Their fixtures are kept in
   ``tests/service/data`` and never regenerated.
2. A new way of storing gets a new tag (or, for the bytes around the body, a new codec name in
   the seal header); a tag or codec name never changes meaning.
3. Decoding gives back exactly what was encoded. The messages are shared only when their JSON is
   byte-for-byte the same run of the history; otherwise the request keeps its own copy.
4. Readers come before writers: a release reads a new form before any release writes it.
"""

from __future__ import annotations

import msgspec

from ._codec import DecodeError, encode
from ._events import Snapshot
from ._messages import Message


class StoredSnapshot(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag=True):
    """How a ``Snapshot`` is stored: ``snapshot`` without its request's messages, which are the
    ``request_messages_count`` messages of ``snapshot.paused.messages`` from
    ``request_messages_start`` on. A count of 0: the request kept its own messages, if any."""

    snapshot: Snapshot
    request_messages_start: int = 0
    request_messages_count: int = 0


_stored_or_legacy: msgspec.json.Decoder[StoredSnapshot | Snapshot] = msgspec.json.Decoder(
    StoredSnapshot | Snapshot
)


def encode_snapshot(snapshot: Snapshot) -> bytes:
    """The stored form of ``snapshot``: its history once."""
    request = snapshot.request
    start = _start_in_history(request.messages, snapshot.paused.messages)
    if start is None:
        return encode(StoredSnapshot(snapshot=snapshot))
    without_messages = msgspec.structs.replace(request, messages=[])
    return encode(
        StoredSnapshot(
            snapshot=msgspec.structs.replace(snapshot, request=without_messages),
            request_messages_start=start,
            request_messages_count=len(request.messages),
        )
    )


def decode_snapshot(data: bytes) -> Snapshot:
    """A ``Snapshot`` from a stored body of any form (DecodeError if it is none)."""
    try:
        stored = _stored_or_legacy.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise DecodeError(f"not a snapshot: {exc}") from exc
    if isinstance(stored, Snapshot):
        return stored  # written before the history was stored once
    snapshot, start, count = stored.snapshot, stored.request_messages_start, stored.request_messages_count
    if count == 0:
        return snapshot
    history = snapshot.paused.messages
    if snapshot.request.messages or start < 0 or start + count > len(history):
        raise DecodeError(
            f"not a snapshot: request messages [{start}:{start + count}] do not fit a history of "
            f"{len(history)} (or the request kept its own)"
        )
    request = msgspec.structs.replace(snapshot.request, messages=history[start : start + count])
    rebuilt: Snapshot = msgspec.structs.replace(snapshot, request=request)
    return rebuilt


def _start_in_history(messages: list[Message], history: list[Message]) -> int | None:
    """Where ``messages`` sit in ``history`` as one run of equal JSON, or None.

    A run's history is its request's messages after what comes before them (a system message, a
    rendered prompt), so they are usually found at 0 or 1. Bytes are compared, not values: 1 and
    1.0 are equal values but not equal JSON, and what is decoded must encode as it was written.
    """
    count = len(messages)
    if count == 0 or count > len(history):
        return None
    wanted = encode(messages)
    first = messages[0]
    for start in range(len(history) - count + 1):
        if history[start] == first and encode(history[start : start + count]) == wanted:
            return start
    return None
