"""Stored documents stay readable: every schema version's fixtures decode to the same values.

The files in data/v1 and data/v2 were written once and are committed. Never regenerate them from
the current code: they stand for documents already sitting in storage. If a change breaks these
tests, the change breaks stored pauses and chats (see the rules in intermission_schemas._documents).

Version 1 tagged every part with ``"kind"``; version 2 writes parts untagged, exactly as Genkit
does. A version 1 document decodes to the same values and re-encodes as its version 2 twin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from intermission_schemas import (
    SCHEMA_VERSION,
    ChatState,
    DataPart,
    DecodeError,
    Marker,
    Media,
    MediaPart,
    Message,
    PausedGeneration,
    TextPart,
    ToolDefinition,
    ToolRequest,
    ToolRequestPart,
    ToolResponsePart,
    all_json_schemas,
    decode_chat_state,
    decode_messages,
    decode_paused,
    encode,
    json_schema,
)

V1 = Path(__file__).parent / "data" / "v1"
V2 = Path(__file__).parent / "data" / "v2"
PAUSED_FILES = ["paused_generation.json", "paused_after_restart.json"]
CHAT_FILES = ["chat_state.json"]
SIGNATURE = "CiQB0e2Kb3Xq+/9vZ2VtaW5pLXNpZ25hdHVyZQ==Eg8KDXRob3VnaHQvc2ln+A=="


def raw(name: str) -> bytes:
    return (V1 / name).read_bytes()


def raw_v2(name: str) -> bytes:
    return (V2 / name).read_bytes()


def test_schema_version_is_2() -> None:
    # Raising it means writing data/v3 fixtures and keeping the v1 and v2 tests passing.
    assert SCHEMA_VERSION == 2


def without_kind(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: without_kind(v) for k, v in node.items() if k != "kind"}
    if isinstance(node, list):
        return [without_kind(v) for v in node]
    return node


@pytest.mark.parametrize("name", PAUSED_FILES + CHAT_FILES)
def test_v1_and_v2_fixtures_hold_the_same_document(name: str) -> None:
    v1, v2 = json.loads(raw(name)), json.loads(raw_v2(name))
    assert v1["schemaVersion"] == 1
    assert v2["schemaVersion"] == 2
    assert '"kind"' in raw(name).decode()
    assert '"kind"' not in raw_v2(name).decode()
    assert without_kind({**v1, "schemaVersion": 2}) == v2


@pytest.mark.parametrize("name", PAUSED_FILES)
def test_v1_paused_generation_decodes_and_re_encodes_as_v2(name: str) -> None:
    paused = decode_paused(raw(name))
    assert isinstance(paused, PausedGeneration)
    assert paused == decode_paused(raw_v2(name))
    assert encode(paused) == raw_v2(name)
    assert paused.interrupts == [p for p in paused.messages[-1].tool_requests if p.is_interrupted]


@pytest.mark.parametrize("name", PAUSED_FILES)
def test_v2_paused_generation_round_trips_byte_for_byte(name: str) -> None:
    data = raw_v2(name)
    paused = decode_paused(data)
    assert paused.schema_version == 2
    assert encode(paused) == data


@pytest.mark.parametrize("name", CHAT_FILES)
def test_v1_chat_state_decodes_and_re_encodes_as_v2(name: str) -> None:
    chat = decode_chat_state(raw(name))
    assert isinstance(chat, ChatState)
    assert chat == decode_chat_state(raw_v2(name))
    assert encode(chat) == raw_v2(name)


@pytest.mark.parametrize("name", CHAT_FILES)
def test_v2_chat_state_round_trips_byte_for_byte(name: str) -> None:
    data = raw_v2(name)
    chat = decode_chat_state(data)
    assert chat.schema_version == 2
    assert encode(chat) == data


def test_v1_paused_generation_decodes_to_the_expected_values() -> None:
    paused = decode_paused(raw("paused_generation.json"))
    system, user, _, tool, model = paused.messages
    assert system.role == "system"
    text, media, data = user.content
    assert isinstance(text, TextPart)
    assert text.text == "Help me plan a birthday party next week."
    assert media == MediaPart(Media(url="data:image/png;base64,iVBORw0KGgo=", content_type="image/png"))
    assert isinstance(data, DataPart)
    assert data.data["budget"] == {"amount": 150000, "currency": "USD"}
    assert data.data["tags"] == ["outdoor", None]
    [response] = tool.content
    assert isinstance(response, ToolResponsePart)
    assert response.tool_response.output == {"found": ["park", "hall"]}
    assert model.metadata == {"model": "gemini-2.5-flash"}
    assert isinstance(model.content[0], TextPart)
    assert model.content[0].metadata == {Marker.THOUGHT_SIGNATURE: SIGNATURE}
    lookup, ask, transfer = model.tool_requests
    assert lookup.metadata == {Marker.PENDING_OUTPUT: {"forecast": "sunny", "celsius": 24.5}}
    assert not lookup.is_interrupted
    assert ask.interrupt is True
    assert ask.metadata == {Marker.INTERRUPT: True, Marker.THOUGHT_SIGNATURE: SIGNATURE}
    assert transfer.interrupt == {"message": "Please confirm sending an amount > $100."}
    assert transfer.tool_request == ToolRequest(
        name="transferMoney", ref="transferMoney-4-3", input={"toAccountId": "ABC123", "amount": 100000}
    )
    assert paused.interrupts == [ask, transfer]


def test_v1_paused_after_restart_keeps_every_marker() -> None:
    paused = decode_paused(raw("paused_after_restart.json"))
    _, first_model, first_tool, model = paused.messages
    assert first_model.tool_requests[0].metadata == {Marker.RESOLVED_INTERRUPT: True}
    answered, replayed = first_tool.content
    assert isinstance(answered, ToolResponsePart)
    assert answered.metadata == {Marker.INTERRUPT_RESPONSE: {"answeredBy": "alice"}}
    assert isinstance(replayed, ToolResponsePart)
    assert replayed.metadata == {Marker.SOURCE: "pending"}
    assert replayed.tool_response.output is None
    held, spend = model.tool_requests
    assert held.metadata == {Marker.RESOLVED_INTERRUPT: True, Marker.PENDING_OUTPUT: "pie"}
    assert spend.metadata == {
        Marker.INTERRUPT: {"level": 2, "approver": "director"},
        Marker.RESUMED: {"approvedLevel": 1},
        Marker.REPLACED_INPUT: {"amount": 70},
    }


def test_v1_chat_state_decodes_to_the_expected_values() -> None:
    chat = decode_chat_state(raw("chat_state.json"))
    assert chat.tools == ["lookup", "askQuestion", "transferMoney"]
    assert chat.system == "Use the askQuestion tool if you need to clarify something."
    assert chat.config == {"temperature": 0.2, "maxOutputTokens": 512}
    assert [i.tool_request.ref for i in chat.interrupts] == ["askQuestion-4-2", "transferMoney-4-3"]
    [inline] = chat.inline_tools
    assert isinstance(inline, ToolDefinition)
    assert inline.name == "approveBudget"
    assert inline.metadata == {"interrupt": True}
    assert inline.output_schema == {"type": "string", "enum": ["APPROVED", "REJECTED"]}
    assert chat.messages == decode_paused(raw("paused_generation.json")).messages


# -- forward and backward compatibility ------------------------------------------------------


def add_unknown_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The document as a newer writer might produce it: extra keys at every level."""
    document = json.loads(json.dumps(document))
    document["writtenBy"] = "intermission 9.9"
    for message in document["messages"]:
        message["createdAt"] = "2030-01-01T00:00:00Z"
        for part in message["content"]:
            part["partId"] = "p-1"
            for key in ("toolRequest", "toolResponse", "media"):
                if key in part:
                    part[key]["futureField"] = {"nested": [1, 2]}
    for part in document["interrupts"]:
        part["partId"] = "p-1"
        part["toolRequest"]["futureField"] = True
    for tool in document.get("inlineTools", []):
        tool["futureField"] = "x"
    return document


@pytest.mark.parametrize("name", PAUSED_FILES)
@pytest.mark.parametrize("read", [raw, raw_v2])
def test_unknown_fields_are_ignored_in_a_paused_generation(name: str, read: Any) -> None:
    data = read(name)
    newer = json.dumps(add_unknown_fields(json.loads(data))).encode()
    assert decode_paused(newer) == decode_paused(data)
    assert encode(decode_paused(newer)) == raw_v2(name)


def test_unknown_fields_are_ignored_in_a_chat_state() -> None:
    data = raw("chat_state.json")
    newer = json.dumps(add_unknown_fields(json.loads(data))).encode()
    assert decode_chat_state(newer) == decode_chat_state(data)


def test_fields_with_defaults_may_be_missing() -> None:
    # A document written before a defaulted field existed still decodes.
    document = json.loads(raw("chat_state.json"))
    for key in ("tools", "interrupts", "system", "config", "inlineTools", "schemaVersion"):
        del document[key]
    chat = decode_chat_state(json.dumps(document).encode())
    assert chat.tools == []
    assert chat.interrupts == []
    assert chat.system is None
    assert chat.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize(
    ("name", "decode"),
    [("paused_generation.json", decode_paused), ("chat_state.json", decode_chat_state)],
)
def test_a_newer_schema_version_is_rejected(name: str, decode: Any) -> None:
    document = json.loads(raw(name))
    document["schemaVersion"] = SCHEMA_VERSION + 1
    with pytest.raises(DecodeError, match=f"schema_version {SCHEMA_VERSION + 1}"):
        decode(json.dumps(document).encode())


def test_a_part_of_unknown_kind_is_a_decode_error_naming_it() -> None:
    # Before version 2 a reasoning part was unknown; now it is one of Genkit's part kinds.
    document = json.loads(raw("paused_generation.json"))
    document["messages"][1]["content"][0] = {"kind": "hologram", "hologram": "hmm"}
    with pytest.raises(DecodeError) as caught:
        decode_paused(json.dumps(document).encode())
    assert "hologram" in str(caught.value)
    assert "kind" in str(caught.value)
    assert "at `messages[1].content[0]`" in str(caught.value)


@pytest.mark.parametrize(
    "part",
    [{}, {"metadata": {"a": 1}}, {"text": "a", "toolRequest": {"name": "t"}}, {"text": "a", "data": None}],
)
def test_a_part_needs_exactly_one_kind(part: dict[str, Any]) -> None:
    with pytest.raises(DecodeError, match=r"exactly one of text, media.*at `\$\[0\].content\[0\]`"):
        decode_messages(json.dumps([{"role": "user", "content": [part]}]).encode())


def test_decode_errors_name_the_field_and_reject_non_json() -> None:
    with pytest.raises(DecodeError, match="role"):
        decode_messages(b'[{"role": "robot", "content": []}]')
    with pytest.raises(DecodeError, match="not valid JSON"):
        decode_paused(b"{not json")
    with pytest.raises(DecodeError):
        decode_paused(raw("chat_state.json"))  # a chat state is not a paused generation


def test_thought_signature_survives_encode_and_decode_byte_for_byte() -> None:
    signatures = [
        SIGNATURE,
        "A" * 4096 + "+/=",
        'with "quotes", back\\slashes, unicode é and \u2028 line separator',
    ]
    for signature in signatures:
        message = Message(
            role="model",
            content=[
                TextPart("thinking", metadata={Marker.THOUGHT_SIGNATURE: signature}),
                ToolRequestPart(
                    ToolRequest(name="askQuestion", ref="r", input={}),
                    metadata={Marker.INTERRUPT: True, Marker.THOUGHT_SIGNATURE: signature},
                ),
            ],
        )
        data = encode([message])
        [decoded] = decode_messages(data)
        assert decoded == message
        assert decoded.content[0].metadata == {Marker.THOUGHT_SIGNATURE: signature}
        assert encode([decoded]) == data
        assert json.loads(data)[0]["content"][1]["metadata"][Marker.THOUGHT_SIGNATURE] == signature


# -- JSON Schemas ------------------------------------------------------------------------------


def documents_by_type() -> dict[str, list[Any]]:
    """Every fixture document, and the pieces of them each public wire type describes."""
    paused = [json.loads(read(name)) for name in PAUSED_FILES for read in (raw, raw_v2)]
    chats = [json.loads(read(name)) for name in CHAT_FILES for read in (raw, raw_v2)]
    messages = [m for doc in [*paused, *chats] for m in doc["messages"]]
    parts = [p for m in messages for p in m["content"]]
    return {
        "PausedGeneration": paused,
        "ChatState": chats,
        "Message": messages,
        "Part": parts,
        "ToolRequestPart": [p for p in parts if "toolRequest" in p],
        "ToolResponsePart": [p for p in parts if "toolResponse" in p],
        "ToolDefinition": [t for doc in chats for t in doc["inlineTools"]],
    }


def test_every_json_schema_is_valid_and_validates_the_fixtures() -> None:
    schemas = all_json_schemas()
    documents = documents_by_type()
    # The message and document types all have a schema (event types are listed there too).
    assert set(documents) <= set(schemas)
    for name, schema in schemas.items():
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        validator = validator_class(schema)
        for document in documents.get(name, []):
            errors = [e.message for e in validator.iter_errors(document)]
            assert errors == [], f"{name}: {errors}"
    assert all(documents.values())


def test_json_schemas_reject_what_the_decoder_rejects() -> None:
    message = jsonschema.validators.validator_for(json_schema(Message))(json_schema(Message))
    assert not message.is_valid({"role": "robot", "content": []})
    assert not message.is_valid({"role": "user"})
    paused_schema = all_json_schemas()["PausedGeneration"]
    paused = jsonschema.validators.validator_for(paused_schema)(paused_schema)
    document = json.loads(raw("paused_generation.json"))
    del document["interrupts"]
    assert not paused.is_valid(document)
