"""Every kind of Genkit part decodes to its public class by the key it has, and encodes back as is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from intermission_schemas import (
    CustomPart,
    DataPart,
    MediaPart,
    Message,
    ReasoningPart,
    Resource,
    ResourcePart,
    TextPart,
    ToolRequestPart,
    ToolResponsePart,
    decode_messages,
    decode_request,
    decode_run_result,
    encode,
)

PARTS: list[tuple[dict[str, Any], type[Any]]] = [
    ({"text": "hi", "metadata": {"thoughtSignature": "c2ln"}}, TextPart),
    ({"media": {"url": "https://x/y.png", "contentType": "image/png"}}, MediaPart),
    ({"toolRequest": {"name": "t", "ref": "1", "input": {"a": 1}, "partial": True}}, ToolRequestPart),
    ({"toolResponse": {"name": "t", "ref": "1", "output": 2, "content": [{"text": "x"}]}}, ToolResponsePart),
    ({"data": {"k": [1, None]}}, DataPart),
    ({"data": None}, DataPart),
    ({"custom": {"vendor": "x"}}, CustomPart),
    ({"reasoning": "because"}, ReasoningPart),
    ({"resource": {"uri": "file:///a"}}, ResourcePart),
]


@pytest.mark.parametrize(("part", "cls"), PARTS, ids=[c.__name__ + str(i) for i, (_, c) in enumerate(PARTS)])
def test_a_genkit_part_decodes_to_its_class_and_encodes_back(part: dict[str, Any], cls: type[Any]) -> None:
    data = json.dumps([{"role": "model", "content": [part]}]).encode()
    [message] = decode_messages(data)
    [decoded] = message.content
    assert type(decoded) is cls
    assert json.loads(encode([message]))[0]["content"] == [part]


def test_the_new_part_classes_build_genkit_json() -> None:
    message = Message(
        role="model", content=[ReasoningPart("r"), ResourcePart(Resource(uri="u")), CustomPart({"a": 1})]
    )
    assert json.loads(encode(message))["content"] == [
        {"reasoning": "r"},
        {"resource": {"uri": "u"}},
        {"custom": {"a": 1}},
    ]


def test_parts_inside_events_are_made_public_too() -> None:
    messages = [{"role": "user", "content": [{"text": "hi"}, {"kind": "data", "data": 1}]}]
    request = decode_request(
        json.dumps(
            {"type": "GenerateRequest", "runId": "r", "idempotencyKey": "k", "messages": messages}
        ).encode()
    )
    assert request.messages[0].content == [TextPart("hi"), DataPart(1)]
    result = decode_run_result(
        json.dumps(
            {
                "type": "RunResult",
                "runId": "r",
                "completed": {"type": "RunCompleted", "runId": "r", "text": "", "finishReason": "stop"},
                "messages": messages,
            }
        ).encode()
    )
    assert result.messages[0].content == [TextPart("hi"), DataPart(1)]
