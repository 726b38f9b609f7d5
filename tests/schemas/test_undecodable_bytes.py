"""Property: every decoder, fed arbitrary bytes inside the strings of otherwise valid JSON,
answers with a value or with the typed DecodeError, never anything else.

msgspec raises UnicodeDecodeError (not its DecodeError) for invalid UTF-8 inside a JSON string;
a decoder that lets it through turns a record with a Latin-1 "café" into a retried "poison"
record instead of an `undecodable` dead letter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from intermission_schemas import (
    DecodeError,
    EventDecodeError,
    decode_approval,
    decode_chat_state,
    decode_dead_letter,
    decode_messages,
    decode_paused,
    decode_request,
    decode_result,
    decode_resume,
    decode_run_result,
    decode_snapshot,
)

HOLE = b"@HOLE@"
_MESSAGE = b'{"role":"user","content":[{"text":"@HOLE@"}]}'

# One template per decoder; HOLE sits inside a string value and inside a key, where the decoder
# has to read it as text.
TEMPLATES: dict[str, tuple[Callable[[bytes], Any], bytes]] = {
    "request": (
        decode_request,
        b'{"type":"GenerateRequest","runId":"@HOLE@","idempotencyKey":"k","@HOLE@":1,'
        b'"messages":[' + _MESSAGE + b"]}",
    ),
    "resume": (
        decode_resume,
        b'{"type":"ResumeRequested","runId":"r","resumeId":"@HOLE@","snapshotVersion":1,'
        b'"respond":[{"ref":"x","output":"@HOLE@"}]}',
    ),
    "approval": (decode_approval, b'{"type":"InterruptRaised","runId":"@HOLE@","@HOLE@":2}'),
    "result": (decode_result, b'{"type":"RunFailed","runId":"r","code":"x","message":"@HOLE@"}'),
    "dead_letter": (decode_dead_letter, b'{"type":"DeadLetter","topic":"@HOLE@","reason":"poison"}'),
    "run_result": (
        decode_run_result,
        b'{"type":"RunResult","runId":"@HOLE@","completed":{"type":"RunFailed","runId":"r",'
        b'"code":"x","message":"@HOLE@"}}',
    ),
    "messages": (decode_messages, b"[" + _MESSAGE + b"]"),
    "paused": (decode_paused, b'{"type":"PausedGeneration","messages":[' + _MESSAGE + b'],"interrupts":[]}'),
    "chat_state": (
        decode_chat_state,
        b'{"type":"ChatState","messages":[' + _MESSAGE + b'],"system":"@HOLE@"}',
    ),
    "snapshot": (decode_snapshot, b'{"type":"@HOLE@","snapshot":{}}'),
}
TOPIC_DECODERS = {"request", "resume", "approval", "result", "dead_letter"}

# Not UTF-8: Latin-1 text, a lone surrogate (U+D800 as three bytes), an overlong "/", a code
# point past U+10FFFF, a stray continuation byte, a truncated sequence.
NOT_UTF8 = [b"caf\xe9", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\x80", b"\xe2\x82"]


def _fill(template: bytes, hole: bytes) -> bytes:
    return template.replace(HOLE, hole)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("hole", NOT_UTF8, ids=repr)
def test_invalid_utf8_in_a_string_is_a_typed_decode_error(name: str, hole: bytes) -> None:
    decode, template = TEMPLATES[name]
    with pytest.raises(DecodeError) as raised:
        decode(_fill(template, hole))
    if name in TOPIC_DECODERS:
        assert isinstance(raised.value, EventDecodeError)
        assert raised.value.reason == "undecodable", raised.value


@settings(max_examples=400, deadline=None)
@given(name=st.sampled_from(sorted(TEMPLATES)), hole=st.binary(max_size=24) | st.sampled_from(NOT_UTF8))
def test_any_bytes_in_a_string_decode_or_raise_the_typed_error(name: str, hole: bytes) -> None:
    decode, template = TEMPLATES[name]
    raised: DecodeError | None = None
    try:
        decode(_fill(template, hole))
    except DecodeError as exc:  # anything else (UnicodeDecodeError above all) fails the property
        raised = exc
    if raised is not None and name in TOPIC_DECODERS:
        assert isinstance(raised, EventDecodeError)


def test_the_templates_are_json_when_the_hole_is_plain_text() -> None:
    """The property means something only if the templates are JSON the decoders read through;
    a missing field may still be reported, after the strings were read."""
    for name, (decode, template) in TEMPLATES.items():
        problem = ""
        try:
            decode(_fill(template, b"plain"))
        except EventDecodeError as exc:
            problem = exc.reason
        except DecodeError as exc:
            problem = "undecodable" if "JSON" in str(exc) else "invalid"
        assert problem != "undecodable", name
