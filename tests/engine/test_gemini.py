"""GeminiModel with the real google-genai SDK, against the scripted local Gemini server."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.genai import types
from intermission._gemini import GeminiModel, RetryPolicy
from intermission._model import Model, ModelChunk, ModelRequest, ModelResponse
from intermission.errors import ModelError, ModelUnavailableError, RateLimitedError, UsageError
from intermission.testing import (
    GeminiReply,
    GeminiServer,
    StreamedReply,
    candidate_reply,
    error_reply,
    function_call_part,
    function_call_reply,
    stream_chunk,
    text_part,
    text_reply,
)
from intermission_schemas import (
    DataPart,
    Marker,
    Media,
    MediaPart,
    Message,
    TextPart,
    ToolDefinition,
    ToolRequest,
    ToolRequestPart,
    ToolResponse,
    ToolResponsePart,
    decode_messages,
    encode,
)

# Standard and url-safe base64 differ for these bytes ("+//+" vs "-__-"), and the length
# needs padding: any re-encoding on the way would show.
SIGNATURE_BYTES = bytes([0xFB, 0xFF, 0xFE, 0x01, 0x02, 0x03, 0xFB])
SIGNATURE = base64.b64encode(SIGNATURE_BYTES).decode()
SIGNATURE_URLSAFE = base64.urlsafe_b64encode(SIGNATURE_BYTES).decode()

WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 1, "description": "City name"},
        "unit": {"enum": ["C", "F"], "default": None},
        "days": {"type": ["integer", "null"], "minimum": 1},
    },
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER_OUTPUT: dict[str, Any] = {"type": "object", "properties": {"summary": {"type": "string"}}}
WEATHER = ToolDefinition(
    name="weather",
    description="The weather in a city",
    input_schema=WEATHER_SCHEMA,
    output_schema=WEATHER_OUTPUT,
)


class Sleeps:
    """A RetryPolicy.sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


@pytest.fixture
async def server() -> AsyncIterator[GeminiServer]:
    async with GeminiServer() as running:
        yield running


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_model(server: GeminiServer, sleeps: Sleeps, **retry: Any) -> GeminiModel:
    policy = RetryPolicy(**{"initial_delay": 0.0, "jitter": 0.0, "sleep": sleeps, **retry})
    return GeminiModel("gemini-2.5-flash", client=server.client(), retry=policy)


def user(text: str) -> Message:
    return Message(role="user", content=[TextPart(text)])


def ask(*messages: Message, **fields: Any) -> ModelRequest:
    return ModelRequest(messages=list(messages), **fields)


def declarations(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for tool in body["tools"] for d in tool["functionDeclarations"]]


def camel(name: str) -> str:
    return "".join(w.capitalize() if i else w for i, w in enumerate(name.split("_")))


def camel_keys(value: Any) -> Any:
    """``value`` with every key in camelCase. The SDK writes fields of nested SDK objects in
    snake_case (``mime_type``, ``thinking_budget``); Gemini reads either spelling."""
    if isinstance(value, dict):
        return {camel(k): camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel_keys(v) for v in value]
    return value


def json_schema_of(declaration: dict[str, Any], field: str) -> Any:
    # The SDK sends these two keys in snake_case; Gemini reads either spelling.
    return declaration.get(field, declaration.get(camel(field)))


# --- plain calls --------------------------------------------------------------------------------


async def test_text_reply(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(
        text_reply(
            "Hello there",
            usage={
                "promptTokenCount": 7,
                "candidatesTokenCount": 3,
                "thoughtsTokenCount": 2,
                "totalTokenCount": 12,
            },
        )
    )
    model = make_model(server, sleeps)
    system = Message(role="system", content=[TextPart("Be brief.")])
    request = ask(system, user("Hi"), config={"temperature": 0.2, "maxOutputTokens": 64})

    response = await model.generate(request)

    assert response.message == Message(role="model", content=[TextPart("Hello there")])
    assert response.finish_reason == "stop"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 5)
    assert response.usage.total_tokens == 12
    [recorded] = server.requests
    assert recorded.path == "/v1/models/gemini-2.5-flash:generateContent"
    assert recorded.json["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]
    assert recorded.json["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert recorded.json["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 64}
    # Automatic function calling is client-side only: nothing about it goes on the wire.
    assert "automaticFunctionCalling" not in recorded.body.decode()


async def test_function_call_reply_carries_ref_and_our_schema_goes_out_unchanged(
    server: GeminiServer, sleeps: Sleeps
) -> None:
    server.enqueue(function_call_reply("weather", {"city": "Oslo"}, id="call-1"))
    model = make_model(server, sleeps)

    response = await model.generate(ask(user("Weather in Oslo?"), tools=[WEATHER]))

    assert response.message.content == [
        ToolRequestPart(ToolRequest(name="weather", ref="call-1", input={"city": "Oslo"}))
    ]
    [declaration] = declarations(server.requests[0].json)
    assert declaration["name"] == "weather"
    assert declaration["description"] == "The weather in a city"
    assert json_schema_of(declaration, "parameters_json_schema") == WEATHER_SCHEMA
    assert json_schema_of(declaration, "response_json_schema") == WEATHER_OUTPUT
    assert "parameters" not in declaration  # not squeezed through the SDK's Schema type


async def test_function_call_without_id_leaves_ref_to_the_engine(
    server: GeminiServer, sleeps: Sleeps
) -> None:
    server.enqueue(function_call_reply("weather", {"city": "Oslo"}))
    response = await make_model(server, sleeps).generate(ask(user("?"), tools=[WEATHER]))
    [part] = response.message.tool_requests
    assert part.tool_request.ref is None


async def test_output_schema_asks_for_json(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(text_reply('{"answer": 42}'))
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}}}
    response = await make_model(server, sleeps).generate(ask(user("?"), output_schema=schema))
    assert response.message.text == '{"answer": 42}'
    config = server.requests[0].json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema


@pytest.mark.parametrize(
    ("gemini", "ours"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "blocked"),
        ("RECITATION", "blocked"),
        ("PROHIBITED_CONTENT", "blocked"),
        ("MALFORMED_FUNCTION_CALL", "other"),
    ],
)
async def test_finish_reasons(server: GeminiServer, sleeps: Sleeps, gemini: str, ours: str) -> None:
    server.enqueue(text_reply("x", finish_reason=gemini))
    response = await make_model(server, sleeps).generate(ask(user("?")))
    assert response.finish_reason == ours


async def test_blocked_prompt_gives_an_empty_blocked_reply(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(GeminiReply({"promptFeedback": {"blockReason": "SAFETY"}}))
    response = await make_model(server, sleeps).generate(ask(user("?")))
    assert response.message.content == []
    assert response.finish_reason == "blocked"


# --- history ------------------------------------------------------------------------------------


async def test_history_maps_to_gemini_contents(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(text_reply("Done."))
    history = [
        Message(role="system", content=[TextPart("You are a weather bot.")]),
        user("Weather in Oslo and Bergen?"),
        Message(
            role="model",
            content=[
                TextPart("Checking."),
                ToolRequestPart(ToolRequest(name="weather", ref="c1", input={"city": "Oslo"})),
                ToolRequestPart(ToolRequest(name="weather", ref="c2", input={"city": "Bergen"})),
            ],
        ),
        Message(
            role="tool",
            content=[
                ToolResponsePart(ToolResponse(name="weather", ref="c1", output={"summary": "sun"})),
                ToolResponsePart(ToolResponse(name="weather", ref="c2", output="rain")),
            ],
        ),
        Message(
            role="user",
            content=[
                MediaPart(Media(url="data:image/png;base64,iVBORw0K", content_type="image/png")),
                MediaPart(Media(url="https://example.com/a.pdf", content_type="application/pdf")),
                DataPart({"b": [1, 2]}),
            ],
        ),
    ]

    await make_model(server, sleeps).generate(ask(*history, tools=[WEATHER]))

    body = server.requests[0].json
    assert body["systemInstruction"]["parts"] == [{"text": "You are a weather bot."}]
    assert body["contents"][:3] == [
        {"role": "user", "parts": [{"text": "Weather in Oslo and Bergen?"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Checking."},
                {"functionCall": {"id": "c1", "name": "weather", "args": {"city": "Oslo"}}},
                {"functionCall": {"id": "c2", "name": "weather", "args": {"city": "Bergen"}}},
            ],
        },
        {
            "role": "user",  # Gemini's role for function results
            "parts": [
                {
                    "functionResponse": {
                        "id": "c1",
                        "name": "weather",
                        "response": {"summary": "sun"},
                    }
                },
                # Gemini needs an object; a bare value is wrapped.
                {"functionResponse": {"id": "c2", "name": "weather", "response": {"output": "rain"}}},
            ],
        },
    ]
    media, file, data = camel_keys(body["contents"][3]["parts"])
    assert media["inlineData"]["mimeType"] == "image/png"
    assert base64.urlsafe_b64decode(media["inlineData"]["data"]) == base64.b64decode("iVBORw0K")
    assert file == {"fileData": {"fileUri": "https://example.com/a.pdf", "mimeType": "application/pdf"}}
    assert json.loads(data["text"]) == {"b": [1, 2]}


async def test_media_reply_becomes_a_data_url(server: GeminiServer, sleeps: Sleeps) -> None:
    png = base64.b64encode(b"\x89PNG\xfb\xff").decode()
    server.enqueue(candidate_reply([{"inlineData": {"mimeType": "image/png", "data": png}}]))
    response = await make_model(server, sleeps).generate(ask(user("draw")))
    assert response.message.content == [
        MediaPart(Media(url=f"data:image/png;base64,{png}", content_type="image/png"))
    ]


# --- thought signatures -------------------------------------------------------------------------


async def test_thought_signature_round_trips_byte_for_byte(server: GeminiServer, sleeps: Sleeps) -> None:
    assert SIGNATURE != SIGNATURE_URLSAFE
    server.enqueue(
        function_call_reply("weather", {"city": "Oslo"}, id="c1", thought_signature=SIGNATURE),
        text_reply("Sunny."),
    )
    model = make_model(server, sleeps)
    question = user("Weather in Oslo?")
    first = await model.generate(ask(question, tools=[WEATHER]))

    # The adapter keeps the text the server wrote.
    [call] = first.message.tool_requests
    assert call.metadata == {Marker.THOUGHT_SIGNATURE: SIGNATURE}

    # Through storage and back, as the engine will do between turns.
    [stored] = decode_messages(encode([first.message]))
    answer = Message(
        role="tool",
        content=[ToolResponsePart(ToolResponse(name="weather", ref="c1", output="sun"))],
    )
    await model.generate(ask(question, stored, answer, tools=[WEATHER]))

    raw = server.requests[1].body
    assert f'"thoughtSignature": "{SIGNATURE}"'.encode() in raw
    assert SIGNATURE_URLSAFE.encode() not in raw
    model_turn = server.requests[1].json["contents"][1]
    assert model_turn["parts"][0]["thoughtSignature"] == SIGNATURE


async def test_the_sdk_alone_would_rewrite_the_signature(server: GeminiServer) -> None:
    """Why the adapter bypasses the SDK here: pins the SDK behavior it works around."""
    server.enqueue(
        function_call_reply("weather", {}, thought_signature=SIGNATURE_URLSAFE.rstrip("=")),
        text_reply("ok"),
    )
    client = server.client()
    reply = await client.aio.models.generate_content(model="m", contents="hi")
    assert reply.candidates
    content = reply.candidates[0].content
    assert content is not None
    assert content.parts is not None
    # In: any alphabet, padded or not, becomes bytes; the text is gone.
    assert content.parts[0].thought_signature == SIGNATURE_BYTES
    # Out: bytes go back url-safe and padded, not as Gemini's standard base64.
    await client.aio.models.generate_content(model="m", contents=[content])
    sent = server.requests[1].json["contents"][0]["parts"][0]["thoughtSignature"]
    assert sent == SIGNATURE_URLSAFE


async def test_thought_parts_and_text_signatures_round_trip(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(
        candidate_reply(
            [
                text_part("Let me think about Oslo.", thought=True),
                text_part("It is sunny.", thought_signature=SIGNATURE_BYTES),
            ]
        ),
        text_reply("ok"),
    )
    model = make_model(server, sleeps)
    first = await model.generate(ask(user("?")))
    assert first.message.content == [
        TextPart("Let me think about Oslo.", metadata={"thought": True}),
        TextPart("It is sunny.", metadata={Marker.THOUGHT_SIGNATURE: SIGNATURE}),
    ]

    [stored] = decode_messages(encode([first.message]))
    await model.generate(ask(user("?"), stored, user("thanks")))
    assert server.requests[1].json["contents"][1]["parts"] == [
        {"text": "Let me think about Oslo.", "thought": True},
        {"text": "It is sunny.", "thoughtSignature": SIGNATURE},
    ]


async def test_a_signature_in_metadata_must_be_text(server: GeminiServer, sleeps: Sleeps) -> None:
    bad = Message(role="model", content=[TextPart("x", metadata={Marker.THOUGHT_SIGNATURE: 1})])
    with pytest.raises(UsageError, match="thoughtSignature"):
        await make_model(server, sleeps).generate(ask(user("?"), bad))
    assert server.requests == []


# --- streaming ----------------------------------------------------------------------------------


async def test_streaming_delivers_chunks_and_one_whole_response(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(
        StreamedReply(
            [
                stream_chunk(text_part("Thinking", thought=True)),
                stream_chunk(text_part(" hard", thought=True)),
                stream_chunk(text_part("The weather ")),
                stream_chunk(text_part("in Oslo")),
                # Gemini streams a text run's signature on a trailing empty part.
                stream_chunk(text_part("", thought_signature=SIGNATURE_BYTES)),
                stream_chunk(
                    function_call_part(
                        "weather", {"city": "Oslo"}, id="c9", thought_signature=SIGNATURE_BYTES
                    ),
                    finish_reason="STOP",
                    usage={"promptTokenCount": 4, "candidatesTokenCount": 6, "totalTokenCount": 10},
                ),
            ]
        ),
        text_reply("ok"),
    )
    chunks: list[ModelChunk] = []

    async def on_chunk(chunk: ModelChunk) -> None:
        chunks.append(chunk)

    model = make_model(server, sleeps)
    response = await model.generate(ask(user("?"), tools=[WEATHER]), on_chunk)

    assert server.requests[0].path.endswith(":streamGenerateContent")
    assert server.requests[0].query == {"alt": "sse"}
    assert [c.text for c in chunks] == ["Thinking", " hard", "The weather ", "in Oslo", "", ""]
    signed_call = ToolRequestPart(
        ToolRequest(name="weather", ref="c9", input={"city": "Oslo"}),
        metadata={Marker.THOUGHT_SIGNATURE: SIGNATURE},
    )
    assert response.message.content == [
        TextPart("Thinking hard", metadata={"thought": True}),
        TextPart("The weather in Oslo", metadata={Marker.THOUGHT_SIGNATURE: SIGNATURE}),
        signed_call,
    ]
    assert response.finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.total_tokens == 10

    # The streamed turn goes back with both signatures intact.
    [stored] = decode_messages(encode([response.message]))
    await model.generate(ask(user("?"), stored, user("and?")))
    assert server.requests[1].body.count(f'"thoughtSignature": "{SIGNATURE}"'.encode()) == 2


async def test_a_plain_reply_streams_as_one_chunk(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(text_reply("whole"))
    chunks: list[ModelChunk] = []

    async def on_chunk(chunk: ModelChunk) -> None:
        chunks.append(chunk)

    response = await make_model(server, sleeps).generate(ask(user("?")), on_chunk)
    assert [c.text for c in chunks] == ["whole"]
    assert response.message.text == "whole"


async def test_streaming_retries_an_error_before_the_first_chunk(
    server: GeminiServer, sleeps: Sleeps
) -> None:
    server.enqueue(
        error_reply(503, "UNAVAILABLE"),
        StreamedReply([stream_chunk(text_part("a")), stream_chunk(text_part("b"))]),
    )
    chunks: list[ModelChunk] = []

    async def on_chunk(chunk: ModelChunk) -> None:
        chunks.append(chunk)

    response = await make_model(server, sleeps).generate(ask(user("?")), on_chunk)
    assert response.message.text == "ab"
    assert [c.text for c in chunks] == ["a", "b"]
    assert len(sleeps.delays) == 1


async def test_an_error_mid_stream_is_not_retried(server: GeminiServer, sleeps: Sleeps) -> None:
    failing = {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
    server.enqueue(StreamedReply([stream_chunk(text_part("a")), failing]))
    chunks: list[ModelChunk] = []

    async def on_chunk(chunk: ModelChunk) -> None:
        chunks.append(chunk)

    with pytest.raises(ModelUnavailableError, match="not retried"):
        await make_model(server, sleeps).generate(ask(user("?")), on_chunk)
    assert [c.text for c in chunks] == ["a"]
    assert len(server.requests) == 1


# --- errors and retries -------------------------------------------------------------------------


async def test_429_then_success_is_retried(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(error_reply(429, "RESOURCE_EXHAUSTED"), text_reply("ok"))
    response = await make_model(server, sleeps).generate(ask(user("?")))
    assert response.message.text == "ok"
    assert len(server.requests) == 2
    assert sleeps.delays == [0.0]


async def test_429_forever_is_rate_limited(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(*[error_reply(429, "RESOURCE_EXHAUSTED", "quota")] * 4)
    with pytest.raises(RateLimitedError, match="quota") as raised:
        await make_model(server, sleeps).generate(ask(user("?")))
    assert raised.value.status == 429
    assert "after 4 attempts" in str(raised.value)
    assert len(server.requests) == 4
    assert len(sleeps.delays) == 3


async def test_500_is_unavailable_after_retries(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(*[error_reply(500, "INTERNAL")] * 3)
    with pytest.raises(ModelUnavailableError) as raised:
        await make_model(server, sleeps, max_attempts=3).generate(ask(user("?")))
    assert raised.value.status == 500
    assert len(server.requests) == 3


async def test_400_is_a_model_error_without_retry(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(error_reply(400, "INVALID_ARGUMENT", "bad schema"))
    with pytest.raises(ModelError, match="bad schema") as raised:
        await make_model(server, sleeps).generate(ask(user("?")))
    assert type(raised.value) is ModelError
    assert raised.value.status == 400
    assert len(server.requests) == 1
    assert sleeps.delays == []


async def test_backoff_grows_and_honours_retry_info(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(
        error_reply(503),
        error_reply(503),
        error_reply(429, "RESOURCE_EXHAUSTED", retry_after=3),
        text_reply("ok"),
    )
    model = make_model(server, sleeps, initial_delay=0.5, multiplier=2.0, max_delay=8.0)
    await model.generate(ask(user("?")))
    assert sleeps.delays == [0.5, 1.0, 3.0]


async def test_retry_after_header_is_a_hint(server: GeminiServer, sleeps: Sleeps) -> None:
    busy = error_reply(503, "UNAVAILABLE")
    server.enqueue(GeminiReply(busy.body, status=503, headers={"Retry-After": "2"}), text_reply("ok"))
    await make_model(server, sleeps).generate(ask(user("?")))
    assert sleeps.delays == [2.0]


async def test_a_retry_hint_beyond_max_delay_stops_retrying(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(error_reply(429, "RESOURCE_EXHAUSTED", retry_after=60), text_reply("late"))
    with pytest.raises(RateLimitedError):
        await make_model(server, sleeps, max_delay=8.0).generate(ask(user("?")))
    assert sleeps.delays == []


def test_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(initial_delay=1.0, multiplier=2.0, max_delay=8.0, jitter=0.5)
    delays = [policy.delay_after(3) for _ in range(200)]
    assert all(d is not None and 2.0 <= d <= 4.0 for d in delays)
    assert len(set(delays)) > 1
    assert policy.delay_after(4) is None  # max_attempts=4: no fifth attempt


async def test_transport_errors_are_unavailable(sleeps: Sleeps) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    policy = RetryPolicy(max_attempts=2, initial_delay=0.0, jitter=0.0, sleep=sleeps)
    url = f"http://127.0.0.1:{port}"
    async with GeminiModel(api_key="test", base_url=url, retry=policy) as model:
        with pytest.raises(ModelUnavailableError, match="cannot reach Gemini") as raised:
            await model.generate(ask(user("?")))
    assert raised.value.status is None
    assert len(sleeps.delays) == 1


async def test_running_out_of_replies_fails_loudly(server: GeminiServer, sleeps: Sleeps) -> None:
    with pytest.raises(ModelUnavailableError, match="ran out of scripted replies"):
        await make_model(server, sleeps, max_attempts=1).generate(ask(user("?")))


# --- config and construction --------------------------------------------------------------------


async def test_unknown_config_key_is_a_usage_error(server: GeminiServer, sleeps: Sleeps) -> None:
    model = make_model(server, sleeps)
    with pytest.raises(UsageError, match="'creativity'"):
        await model.generate(ask(user("?"), config={"creativity": 11}))
    with pytest.raises(UsageError, match="'tools' is not allowed"):
        await model.generate(ask(user("?"), config={"tools": []}))
    with pytest.raises(UsageError, match="temperature"):
        await model.generate(ask(user("?"), config={"temperature": "hot"}))
    assert server.requests == []


async def test_camel_and_snake_config_keys(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(text_reply("ok"))
    config = {
        "topK": 3,
        "top_p": 0.5,
        "stopSequences": ["END"],
        "thinkingConfig": {"thinkingBudget": 0},
    }
    await make_model(server, sleeps).generate(ask(user("?"), config=config))
    sent = server.requests[0].json["generationConfig"]
    assert sent["topK"] == 3
    assert sent["topP"] == 0.5
    assert sent["stopSequences"] == ["END"]
    assert camel_keys(sent["thinkingConfig"]) == {"thinkingBudget": 0}


def test_client_and_key_are_exclusive(server: GeminiServer) -> None:
    with pytest.raises(UsageError, match="not both"):
        GeminiModel(client=server.client(), api_key="k")


async def test_gemini_model_is_a_model(server: GeminiServer, sleeps: Sleeps) -> None:
    async def run(model: Model) -> ModelResponse:
        return await model.generate(ask(user("?")))

    server.enqueue(text_reply("typed"))
    assert (await run(make_model(server, sleeps))).message.text == "typed"


async def test_one_connection_serves_many_requests(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(text_reply("1"), text_reply("2"), text_reply("3"))
    model = make_model(server, sleeps)
    for _ in range(3):
        await model.generate(ask(user("?")))
    assert server.connection_count == 1


async def test_server_replies_from_a_function(sleeps: Sleeps) -> None:
    def echo(body: dict[str, Any]) -> GeminiReply:
        return text_reply(body["contents"][-1]["parts"][0]["text"].upper())

    async with GeminiServer(echo) as server:
        response = await make_model(server, sleeps).generate(ask(user("shout")))
    assert response.message.text == "SHOUT"


async def test_sdk_types_do_not_leak(server: GeminiServer, sleeps: Sleeps) -> None:
    server.enqueue(function_call_reply("weather", {"city": "Oslo"}, thought_signature=b"\x01"))
    response = await make_model(server, sleeps).generate(ask(user("?"), tools=[WEATHER]))
    encode(response.message)  # msgspec only encodes our own types and plain values
    assert not any(isinstance(p, types.Part) for p in response.message.content)
