"""Issue 19's wider Genkit JS suite: the cases that are not one generate-then-resume of a
scenario (those are fixtures of test_genkit_compat.py, SUITE there). fixtures/js/suite.json was
written by npm genkit 1.42.0 (fixtures/js/suite.mjs, no network); no npm is needed here.

Each case runs in Intermission and is compared with what Genkit JS wrote: the histories exactly,
or, where Genkit refused, Intermission refuses too with a typed error. Where Genkit JS 1.42 has a
bug (a prompt resume re-renders its user message, #4652; a restarted tool that interrupts again
crashes), the fixture records the bug and Intermission does what Genkit means to do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from intermission import (
    Intermission,
    ModelChunk,
    ModelRequest,
    ModelResponse,
    Resume,
    Tool,
    ToolContext,
    reply,
    tool_call,
)
from intermission._model import ChunkCallback
from intermission.errors import ResumeError, SchemaError
from intermission_schemas import (
    Message,
    TextPart,
    ToolRequestPart,
    ToolResponse,
    ToolResponsePart,
    decode_messages,
    encode,
)
from pydantic import BaseModel
from test_genkit_compat import City, TransferInput, TransferOutput, define_ask, define_weather

HERE = Path(__file__).parent
JS = HERE / "fixtures" / "js"
SUITE = json.loads((JS / "suite.json").read_text(encoding="utf-8"))

ASK = tool_call("askQuestion", {"choices": ["indoor", "outdoor"]}, ref="ask-1")
WEATHER = tool_call("lookupWeather", {"city": "Oslo"}, ref="weather-1")
# Per case (the last user text starts with its name), the tool calls of each turn after it.
TURNS: dict[str, list[list[ToolRequestPart]]] = {
    "prompt": [[WEATHER, ASK]],
    "chat": [[ASK]],
    "stream": [[WEATHER, ASK]],
    "toolstream": [[WEATHER]],
    "invalid": [[tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 1000}, ref="transfer-1")]],
    "unanswered": [[ASK, tool_call("askQuestion", {"choices": ["indoor", "outdoor"]}, ref="ask-2")]],
    "again": [[tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 100000}, ref="transfer-1")]],
    "structured": [],
}
CHUNKS = [TextPart("Checking "), TextPart("the weather.")]


class Canned:
    """suite.mjs's model: answers by case and turn; streams two text chunks in the stream case."""

    seen: list[Message] = []  # the messages of the latest request: what the model saw

    async def generate(self, request: ModelRequest, on_chunk: ChunkCallback | None = None) -> ModelResponse:
        messages = self.seen = request.messages
        last_user = max(i for i, m in enumerate(messages) if m.role == "user")
        text = messages[last_user].text.strip()
        if text == "Hello.":  # the chat's earlier turn (given as history to Genkit)
            return ModelResponse(message=reply("Hi! What shall we plan?"), finish_reason="stop")
        case = next((name for name in TURNS if text.lower().startswith(name)), text)
        if case == "structured":
            return ModelResponse(message=reply('{"stars": "five"}'), finish_reason="stop")
        turn = sum(1 for m in messages[last_user:] if m.role == "tool")
        turns = TURNS.get(case, [])
        if turn >= len(turns):
            return ModelResponse(message=reply("Done."), finish_reason="stop")
        if case == "stream" and turn == 0 and on_chunk is not None:
            for chunk in CHUNKS:
                await on_chunk(ModelChunk(content=[chunk]))
            return ModelResponse(message=reply(*CHUNKS, *turns[turn]), finish_reason="stop")
        return ModelResponse(message=reply(*turns[turn]), finish_reason="stop")


class Rating(BaseModel):
    stars: float


def engine(prompt_dir: Path | None = None) -> tuple[Intermission, dict[str, Tool]]:
    model = Canned()
    ai = Intermission(model=model, prompt_dir=prompt_dir)
    ai.define_model("canned", model)  # the .prompt file names its model
    ask = define_ask(ai)

    @ai.define_tool(name="transferMoney", description="Transfers money; needs approval above $100.")
    async def transfer(input: TransferInput, ctx: ToolContext) -> TransferOutput:
        # Above 10,000 a second approval is needed: the restarted call interrupts again.
        resumed = ctx.resumed
        approvals = 0 if resumed is None else resumed.get("approvals", 1) if isinstance(resumed, dict) else 1
        if input.amount > 100 and approvals < (2 if input.amount > 10000 else 1):
            ctx.interrupt({"message": "Please confirm sending an amount > $100.", "approvals": approvals})
        return TransferOutput(status="OK", message=f"sent {input.amount} to {input.toAccountId}")

    weather = define_weather(ai)
    return ai, {t.name: t for t in (ask, transfer, weather)}


def as_json(messages: list[Message]) -> list[Any]:
    return json.loads(encode(messages))  # type: ignore[no-any-return]


def decoded(history: list[Any]) -> list[Message]:
    return decode_messages(json.dumps(history).encode())


def test_the_suite_was_written_by_genkit_js() -> None:
    assert SUITE["generator"].startswith("genkit 1.42.0 (JavaScript")
    assert (JS / "suite.mjs").is_file()


# -- prompts: Genkit #4652 is not copied ---------------------------------------------------------


@pytest.mark.parametrize("case", ["prompt", "promptFile"])
async def test_a_prompt_pauses_and_resumes_through_the_prompt_with_genkits_history(case: str) -> None:
    fixture = SUITE[case]
    ai, tools = engine(JS / "prompts")
    if case == "prompt":
        prompt = ai.define_prompt(
            name="planDay",
            system="You plan days out.",
            prompt="Prompt: plan a day in {{city}}.",
            tools=list(tools.values()),
            input_schema=City,
        )
    else:
        prompt = ai.prompt("planEvening")
    paused = await prompt(fixture["input"])
    assert paused.finish_reason == fixture["finishReason"] == "interrupted"
    assert as_json(paused.messages) == fixture["paused"]
    # Genkit's call shape for a resume: the input again, the paused messages and the answers.
    resume = Resume(respond=[tools["askQuestion"].respond(paused.interrupts[0], fixture["answer"])])
    done = await prompt(fixture["input"], messages=paused.messages, resume=resume)
    assert done.finish_reason == fixture["resumedFinishReason"] == "stop"
    assert as_json(done.messages) == fixture["resumed"]  # Genkit's history, resumed by generate
    # Genkit JS's own prompt resume appends the user message again and fails (#4652).
    assert fixture["viaPrompt"]["error"]["status"] == "FAILED_PRECONDITION"


# -- a conversation ------------------------------------------------------------------------------


async def test_a_chat_with_earlier_turns_pauses_resumes_elsewhere_and_goes_on() -> None:
    fixture = SUITE["chat"]
    ai, tools = engine()
    chat = ai.chat(system="You help plan.", tools=list(tools.values()))
    await chat.send("Hello.")
    assert as_json(chat.messages) == fixture["earlier"]
    paused = await chat.send(fixture["prompt"])
    assert paused.finish_reason == "interrupted"
    assert as_json(chat.messages) == fixture["paused"]
    # Resumed from its bytes, as in another process.
    elsewhere = ai.chat(state=chat.to_bytes())
    answer = tools["askQuestion"].respond(elsewhere.interrupts[0], fixture["answer"])
    await elsewhere.send(resume=Resume(respond=[answer]))
    assert as_json(elsewhere.messages) == fixture["resumed"]
    await elsewhere.send(fixture["then"])
    assert as_json(elsewhere.messages) == fixture["next"]


async def test_a_chat_sends_what_a_genkit_js_agent_chat_sends_and_keeps_the_same_turns() -> None:
    # Genkit JS 1.42's chat is an agent's: its messages leave the system prompt out (rendered
    # into each request); ours keep it first, so a chat's state is whole. The model sees the same.
    fixture = SUITE["agentChat"]
    ai, tools = engine()
    model = ai.registered_model("canned")
    assert isinstance(model, Canned)
    chat = ai.chat(system=fixture["system"], tools=list(tools.values()))
    for sent, step in zip(fixture["sends"], fixture["steps"], strict=True):
        if sent is None:
            answer = tools["askQuestion"].respond(chat.interrupts[0], fixture["answer"])
            response = await chat.send(resume=Resume(respond=[answer]))
        else:
            response = await chat.send(sent)
        assert response.finish_reason == step["finishReason"]
        assert as_json(chat.messages) == [
            {"role": "system", "content": [{"text": fixture["system"]}]},
            *step["messages"],
        ]
        # The agent marks its rendered system prompt (metadata agentPreamble) to keep it out of
        # the chat's messages; our system message is the chat's own, so it has no such mark.
        [preamble, *rest] = step["seen"]
        assert preamble.pop("metadata") == {"agentPreamble": True}
        assert as_json(model.seen) == [preamble, *rest]


# -- streaming -----------------------------------------------------------------------------------


def chunk_json(chunk: ModelChunk) -> dict[str, Any]:
    """A chunk as Genkit JS's ``chunk.toJSON()`` writes it, without its message index."""
    return {"role": chunk.role, "content": json.loads(encode(chunk.content))}


async def test_a_streamed_pause_and_resume_stream_genkits_chunks_and_write_its_history() -> None:
    fixture = SUITE["stream"]
    ai, tools = engine()
    stream = ai.generate_stream(prompt=fixture["prompt"], tools=list(tools.values()))
    chunks = [chunk_json(c) async for c in stream]
    paused = await stream.response
    assert chunks == [{"role": c["role"], "content": c["content"]} for c in fixture["chunks"]]
    assert paused.finish_reason == fixture["finishReason"] == "interrupted"
    assert as_json(paused.messages) == fixture["paused"]

    resume = Resume(respond=[tools["askQuestion"].respond(paused.interrupts[0], fixture["answer"])])
    resumed = ai.generate_stream(messages=paused.messages, tools=list(tools.values()), resume=resume)
    chunks = [chunk_json(c) async for c in resumed]
    done = await resumed.response
    # Genkit streams the resume's tool message as a "tool" chunk; the scripted "Done." is not
    # streamed by Genkit's model (it streams only in the first turn), ours streams nothing either.
    assert chunks == [{"role": c["role"], "content": c["content"]} for c in fixture["resumeChunks"]]
    assert as_json(done.messages) == fixture["resumed"]


async def test_a_streamed_turn_whose_tools_ran_streams_its_tool_message_as_genkit_does() -> None:
    fixture = SUITE["streamTools"]
    ai, tools = engine()
    stream = ai.generate_stream(prompt=fixture["prompt"], tools=list(tools.values()))
    chunks = [chunk_json(c) async for c in stream]
    assert chunks == [{"role": c["role"], "content": c["content"]} for c in fixture["chunks"]]
    assert as_json((await stream.response).messages) == fixture["messages"]


# -- refusals: Genkit refuses, so does Intermission, with a typed error ---------------------------


def paused_at(case: str) -> tuple[list[Message], list[ToolRequestPart]]:
    """A case's paused history as Genkit JS wrote it, and its tool requests."""
    fixture = SUITE[case]
    assert fixture["error"]["status"] == "INVALID_ARGUMENT"
    paused = decoded(fixture["paused"])
    return paused, [p for p in paused[-1].content if isinstance(p, ToolRequestPart)]


async def test_an_answer_that_fails_the_output_schema_is_refused_naming_the_field() -> None:
    output = SUITE["invalid"]["output"]
    assert "must have required property 'message'" in SUITE["invalid"]["error"]["message"]
    ai, tools = engine()
    paused, [interrupt] = paused_at("invalid")
    # Built with respond: refused at once.
    with pytest.raises(ResumeError) as refused:
        tools["transferMoney"].respond(interrupt, output)
    assert (refused.value.code, refused.value.field) == ("invalid_output", "message")
    # Built as Genkit builds it (respond does not check in Genkit JS): refused by the resume.
    genkits = ToolResponsePart(ToolResponse(name="transferMoney", ref="transfer-1", output=output))
    with pytest.raises(ResumeError) as refused:
        await ai.generate(messages=paused, tools=list(tools.values()), resume=Resume(respond=[genkits]))
    assert (refused.value.code, refused.value.field) == ("invalid_output", "message")


async def test_a_resume_that_leaves_an_interrupt_unanswered_is_refused_naming_it() -> None:
    assert "askQuestion#ask-2" in SUITE["unanswered"]["error"]["message"]
    ai, tools = engine()
    paused, [first, _] = paused_at("unanswered")
    answer = tools["askQuestion"].respond(first, "indoor")
    with pytest.raises(ResumeError) as refused:
        await ai.generate(messages=paused, tools=list(tools.values()), resume=Resume(respond=[answer]))
    assert refused.value.ref == "ask-2"


async def test_structured_output_that_fails_its_schema_is_a_typed_error_naming_the_field() -> None:
    fixture = SUITE["structured"]
    assert fixture["error"]["status"] == "INVALID_ARGUMENT"
    assert "stars: must be number" in fixture["error"]["message"]
    ai, _ = engine()
    response = await ai.generate(prompt=fixture["prompt"], output_schema=Rating)
    # Genkit JS throws from generate; we raise the typed error when the output is read, so the
    # response's text and history stay at hand (README: differences).
    with pytest.raises(SchemaError) as refused:
        response.output  # noqa: B018
    assert refused.value.field == "stars"


# -- a restarted tool that interrupts again: Genkit JS 1.42 crashes, Intermission pauses ----------


async def test_a_restarted_tool_that_interrupts_again_pauses_again_where_genkit_js_crashes() -> None:
    fixture = SUITE["again"]
    assert fixture["error"] == {
        "status": None,
        "name": "TypeError",
        "message": "Cannot read properties of undefined (reading 'tools')",
    }
    ai, tools = engine()
    transfer = tools["transferMoney"]
    paused = decoded(fixture["paused"])
    [interrupt] = [p for p in paused[-1].content if isinstance(p, ToolRequestPart)]
    again = await ai.generate(
        messages=paused,
        tools=list(tools.values()),
        resume=Resume(restart=[transfer.restart(interrupt, fixture["resumed"])]),
    )
    assert again.finish_reason == "interrupted"
    [second] = again.interrupts
    assert second.interrupt == {"message": "Please confirm sending an amount > $100.", "approvals": 1}
    done = await ai.generate(
        messages=again.messages,
        tools=list(tools.values()),
        resume=Resume(restart=[transfer.restart(second, {"approvals": 2})]),
    )
    assert done.finish_reason == "stop"
    [response] = done.messages[-2].content
    assert json.loads(encode(response))["toolResponse"]["output"] == {
        "status": "OK",
        "message": "sent 100000 to ABC123",
    }
