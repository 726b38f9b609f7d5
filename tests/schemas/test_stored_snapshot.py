"""A snapshot's stored form holds its history once and decodes to the snapshot that was written.

The sealed objects around these bodies, and a store written by the release before this form, are
tested in tests/service/test_stored_formats.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from intermission_schemas import (
    DecodeError,
    GenerateRequest,
    Message,
    PausedGeneration,
    Snapshot,
    StoredSnapshot,
    TextPart,
    ToolRequest,
    ToolRequestPart,
    decode_snapshot,
    encode,
    encode_snapshot,
)

CALL = ToolRequestPart(
    ToolRequest(name="transferMoney", ref="t1", input={"amount": 100}), metadata={"interrupt": True}
)


def turns(count: int) -> list[Message]:
    history: list[Message] = []
    for i in range(count):
        history.append(Message(role="user", content=[TextPart(f"Question {i}: what is my balance?")]))
        history.append(Message(role="model", content=[TextPart(f"Answer {i}: 4200 on account {i}.")]))
    return history


def snapshot(request_messages: list[Message], history: list[Message], **request: Any) -> Snapshot:
    return Snapshot(
        run_id="r1",
        snapshot_version=1,
        status="pending",
        request=GenerateRequest(run_id="r1", idempotency_key="r1", messages=request_messages, **request),
        paused=PausedGeneration(
            messages=[*history, Message(role="model", content=[CALL])], interrupts=[CALL]
        ),
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


SYSTEM = Message(role="system", content=[TextPart("Be brief.")])
PROMPT = [SYSTEM, Message(role="user", content=[TextPart("Rendered prompt text.")])]

CASES = {
    "history only": snapshot(turns(3), turns(3)),
    "after a system message": snapshot(turns(3), [SYSTEM, *turns(3)], system="Be brief."),
    "after a rendered prompt": snapshot(turns(2), [*PROMPT, *turns(2)], prompt="p"),
    "no request messages": snapshot([], turns(2), prompt="p"),
    "messages not in the history": snapshot(turns(1), turns(4)[2:]),
}


@pytest.mark.parametrize("name", CASES)
def test_a_stored_snapshot_decodes_to_the_snapshot_written(name: str) -> None:
    written = CASES[name]
    read = decode_snapshot(encode_snapshot(written))
    assert read == written
    assert encode(read) == encode(written)  # so its pause digest is unchanged


def test_the_request_messages_are_stored_once_and_found_where_they_sit() -> None:
    written = CASES["after a system message"]
    stored = msgspec.json.decode(encode_snapshot(written), type=StoredSnapshot)
    assert stored.snapshot.request.messages == []
    assert (stored.request_messages_start, stored.request_messages_count) == (1, 6)
    assert encode(written).count(b"Question 2") == 2
    assert encode_snapshot(written).count(b"Question 2") == 1


def test_messages_equal_in_value_but_not_in_json_keep_their_own_copy() -> None:
    """1 == 1.0 in Python, not in JSON: sharing them would change what the request encodes to."""
    as_int = [Message(role="user", content=[TextPart("x", metadata={"n": 1})])]
    as_float = [Message(role="user", content=[TextPart("x", metadata={"n": 1.0})])]
    written = snapshot(as_int, as_float)
    assert as_int == as_float
    stored = msgspec.json.decode(encode_snapshot(written), type=StoredSnapshot)
    assert stored.request_messages_count == 0
    assert encode(decode_snapshot(encode_snapshot(written))) == encode(written)


def test_a_body_written_before_the_stored_form_still_decodes() -> None:
    written = CASES["history only"]
    assert decode_snapshot(encode(written)) == written


@pytest.mark.parametrize(
    ("start", "count"), [(5, 6), (-1, 2), (0, 99)], ids=["past the end", "negative", "too many"]
)
def test_a_stored_form_whose_messages_do_not_fit_its_history_is_a_decode_error(
    start: int, count: int
) -> None:
    body = encode(
        StoredSnapshot(
            snapshot=CASES["history only"], request_messages_start=start, request_messages_count=count
        )
    )
    with pytest.raises(DecodeError, match="do not fit"):
        decode_snapshot(body)


def test_something_else_is_not_a_snapshot() -> None:
    with pytest.raises(DecodeError, match="not a snapshot"):
        decode_snapshot(b'{"type": "RunResult"}')
