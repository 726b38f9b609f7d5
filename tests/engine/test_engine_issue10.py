"""Issue 10, items 3-9: the engine as a Genkit user would drive it.

Each test here failed before the change it names. The histories are checked against what Genkit
JS (``generate/resolve-tool-requests.ts``) and Genkit Python (``genkit/_ai/_generate.py``) write
for the same resume; tests/genkit compares them with real Genkit output.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgspec
import pytest
from intermission import (
    Intermission,
    IntermissionError,
    Resume,
    ResumeError,
    ScriptedModel,
    Tool,
    ToolContext,
    reply,
    tool_call,
)
from intermission_producer._validation import schema_problem
from intermission_schemas import (
    Marker,
    Message,
    ToolRequest,
    ToolRequestPart,
    ToolResponse,
    ToolResponsePart,
    decode_paused,
    encode,
)
from pydantic import BaseModel

CONFIRM = {"message": "confirm?"}


class Transfer(BaseModel):
    toAccountId: str
    amount: int


def transfer_tool(ai: Intermission, seen: list[tuple[Any, Any, Any]]) -> Tool:
    @ai.define_tool(name="transferMoney", description="moves money")
    async def transfer(input: Transfer, ctx: ToolContext) -> dict[str, Any]:
        seen.append((input.amount, ctx.resumed, ctx.original_input))
        if ctx.resumed is None:
            ctx.interrupt(CONFIRM)
        return {"sent": input.amount}

    return transfer


def ask_tool(ai: Intermission, output: Any = str) -> Tool:
    return ai.define_interrupt(name="ask", description="asks the user", output_schema=output)


async def paused_ask(output: Any = str) -> tuple[Intermission, Tool, Any]:
    ai = Intermission(model=ScriptedModel([reply(tool_call("ask", {"q": "how many?"})), "ok"]))
    ask = ask_tool(ai, output)
    response = await ai.generate(prompt="plan", tools=[ask])
    assert response.finish_reason == "interrupted"
    return ai, ask, response


# -- 3: Resume(metadata=...) becomes the tool message's metadata.resumed ----------------------------


async def test_a_respond_only_resume_marks_the_tool_message_resumed_true() -> None:
    ai, ask, paused = await paused_ask()
    done = await ai.generate(
        messages=paused.messages, tools=[ask], resume=Resume(respond=[ask.respond(paused.interrupts[0], "3")])
    )
    tool_message = done.messages[2]
    assert tool_message.role == "tool"
    assert tool_message.metadata == {Marker.RESUMED: True}


async def test_resume_metadata_is_recorded_as_resumed() -> None:
    ai, ask, paused = await paused_ask()
    answer = ask.respond(paused.interrupts[0], "3")
    done = await ai.generate(
        messages=paused.messages,
        tools=[ask],
        resume=Resume(respond=[answer], metadata={"answeredBy": "alice"}),
    )
    assert done.messages[2].metadata == {Marker.RESUMED: {"answeredBy": "alice"}}


# -- 4: a restart keeps the model's request as the model sent it ---------------------------------


async def paused_transfer() -> tuple[Intermission, Tool, list[tuple[Any, Any, Any]], Any]:
    model = ScriptedModel([reply(tool_call("transferMoney", {"toAccountId": "A", "amount": 500})), "done"])
    ai = Intermission(model=model)
    seen: list[tuple[Any, Any, Any]] = []
    tool = transfer_tool(ai, seen)
    return ai, tool, seen, await ai.generate(prompt="send 500", tools=[tool])


async def test_a_restart_leaves_the_historical_request_alone() -> None:
    ai, tool, seen, paused = await paused_transfer()
    [interrupt] = paused.interrupts
    done = await ai.generate(
        messages=paused.messages, tools=[tool], resume=Resume(restart=tool.restart(interrupt, {"ok": 1}))
    )
    [request] = done.messages[1].tool_requests
    assert request == ToolRequestPart(
        paused.messages[1].tool_requests[0].tool_request, metadata={Marker.RESOLVED_INTERRUPT: CONFIRM}
    )
    assert done.messages[2] == Message(
        role="tool",
        content=[ToolResponsePart(ToolResponse(name="transferMoney", ref=None, output={"sent": 500}))],
        metadata={Marker.RESUMED: True},
    )
    assert seen[-1] == (500, {"ok": 1}, None)


async def test_a_restart_with_replaced_input_runs_it_but_keeps_the_models_request() -> None:
    ai, tool, seen, paused = await paused_transfer()
    [interrupt] = paused.interrupts
    restart = tool.restart(interrupt, replace_input={"toAccountId": "A", "amount": 50})
    done = await ai.generate(messages=paused.messages, tools=[tool], resume=Resume(restart=[restart]))
    [request] = done.messages[1].tool_requests
    assert request.tool_request.input == {"toAccountId": "A", "amount": 500}
    assert request.metadata == {Marker.RESOLVED_INTERRUPT: CONFIRM}
    assert [p.tool_response.output for p in done.messages[2].content if isinstance(p, ToolResponsePart)] == [
        {"sent": 50}
    ]
    assert seen[-1] == (50, True, {"toAccountId": "A", "amount": 500})


# -- 5: one part or a list ----------------------------------------------------------------------


async def test_resume_takes_a_single_part_as_genkit_does() -> None:
    ai, ask, paused = await paused_ask()
    done = await ai.generate(
        messages=paused.messages, tools=[ask], resume=Resume(respond=ask.respond(paused.interrupts[0], "a"))
    )
    assert done.text == "ok"
    assert Resume(restart=(ToolRequestPart(ToolRequest(name="x")),)).restart == [
        ToolRequestPart(ToolRequest(name="x"))
    ]


# -- 6: whatever a tool returns or passes as metadata can be stored ------------------------------


class Forecast(BaseModel):
    city: str
    celsius: float


@dataclasses.dataclass
class Approval:
    level: int


class Limit(msgspec.Struct):
    cap: int


async def test_unannotated_tool_outputs_and_interrupt_metadata_are_stored_as_json() -> None:
    model = ScriptedModel(
        [reply(tool_call("weather", {"city": "Oslo"}), tool_call("spend", {"amount": 5})), "fine"]
    )
    ai = Intermission(model=model)

    @ai.define_tool(name="weather", description="weather")
    async def weather(input, ctx):  # type: ignore[no-untyped-def]  # no annotations, as in the issue
        return Forecast(city=input["city"], celsius=4.5)

    @ai.define_tool(name="spend", description="spend")
    async def spend(input, ctx):  # type: ignore[no-untyped-def]
        if ctx.resumed is None:
            ctx.interrupt(Approval(level=2))
        return [Limit(cap=10), Approval(level=ctx.resumed["level"])]

    paused = await ai.generate(prompt="go", tools=[weather, spend])
    stored = encode(paused.to_paused())
    loaded = decode_paused(stored)
    held, interrupt = loaded.messages[-1].tool_requests
    assert held.metadata == {Marker.PENDING_OUTPUT: {"city": "Oslo", "celsius": 4.5}}
    assert interrupt.interrupt == {"level": 2}

    restart = spend.restart(interrupt, Approval(level=3))
    done = await ai.generate(
        messages=loaded.messages,
        tools=[weather, spend],
        resume=Resume(restart=[restart], metadata=Limit(cap=1)),
    )
    encode(done.to_paused())
    assert done.messages[-2].metadata == {Marker.RESUMED: {"cap": 1}}
    outputs = [p.tool_response.output for p in done.messages[-2].content if isinstance(p, ToolResponsePart)]
    assert outputs == [{"city": "Oslo", "celsius": 4.5}, [{"cap": 10}, {"level": 3}]]


async def test_respond_metadata_is_stored_as_json() -> None:
    _, ask, paused = await paused_ask()
    answer = ask.respond(paused.interrupts[0], "a", metadata=Approval(level=1))
    assert answer.metadata == {Marker.INTERRUPT_RESPONSE: {"level": 1}}
    encode(answer)


# -- 7: bad stored bytes raise an error of the documented tree ----------------------------------


def test_load_paused_of_garbage_is_a_resume_error() -> None:
    with pytest.raises(ResumeError) as caught:
        Intermission.load_paused(b"garbage")
    assert caught.value.code == "undecodable"
    assert isinstance(caught.value, IntermissionError)


def test_chat_state_of_garbage_is_a_resume_error() -> None:
    ai = Intermission(model=ScriptedModel([]))
    with pytest.raises(ResumeError) as caught:
        ai.chat(state=b"garbage")
    assert caught.value.code == "undecodable"


# -- 8: answers are checked strictly, as the producer checks them -------------------------------


@pytest.mark.parametrize(("output_type", "answer"), [(int, "5"), (bool, "no"), (int, 5.5), (str, 5)])
async def test_respond_rejects_what_the_producer_rejects(output_type: Any, answer: Any) -> None:
    _, ask, paused = await paused_ask(output_type)
    assert schema_problem(ask.definition.output_schema, answer) is not None
    with pytest.raises(ResumeError) as caught:
        ask.respond(paused.interrupts[0], answer)
    assert caught.value.code == "invalid_output"


@pytest.mark.parametrize(("output_type", "answer"), [(int, 5), (bool, False), (str, "5")])
async def test_respond_accepts_what_the_producer_accepts(output_type: Any, answer: Any) -> None:
    ai, ask, paused = await paused_ask(output_type)
    assert schema_problem(ask.definition.output_schema, answer) is None
    done = await ai.generate(
        messages=paused.messages,
        tools=[ask],
        resume=Resume(respond=[ask.respond(paused.interrupts[0], answer)]),
    )
    [response] = done.messages[2].content
    assert isinstance(response, ToolResponsePart)
    assert response.tool_response.output == answer


async def test_a_forged_answer_in_a_resume_is_checked_strictly_too() -> None:
    ai, ask, paused = await paused_ask(int)
    ref = paused.interrupts[0].tool_request.ref
    forged = ToolResponsePart(ToolResponse(name="ask", ref=ref, output="5"))
    with pytest.raises(ResumeError) as caught:
        await ai.generate(messages=paused.messages, tools=[ask], resume=Resume(respond=[forged]))
    assert caught.value.code == "invalid_output"


async def test_replace_input_is_checked_strictly() -> None:
    _, tool, _, paused = await paused_transfer()
    with pytest.raises(ResumeError) as caught:
        tool.restart(paused.interrupts[0], replace_input={"toAccountId": "A", "amount": "50"})
    assert caught.value.code == "invalid_input"
    assert caught.value.field == "amount"


# -- 9: a prompt resumed in Genkit's call shape -------------------------------------------------


async def test_a_prompt_resumed_with_its_input_does_not_append_the_user_message_again() -> None:
    model = ScriptedModel([reply(tool_call("ask", {"q": "when?"})), "Saturday it is."])
    ai = Intermission(model=model)
    ask = ask_tool(ai)
    planner = ai.define_prompt(
        name="planner",
        prompt="Plan a {{kind}} party.",
        tools=[ask],
        input_schema={"type": "object", "properties": {"kind": {"type": "string"}}},
    )
    paused = await planner({"kind": "birthday"})
    answer = ask.respond(paused.interrupts[0], "Saturday")
    done = await planner({"kind": "birthday"}, messages=paused.messages, resume=Resume(respond=[answer]))
    assert done.text == "Saturday it is."
    assert [m.role for m in done.messages] == ["user", "model", "tool", "model"]
    assert [m.role for m in model.requests[-1].messages] == ["user", "model", "tool"]
