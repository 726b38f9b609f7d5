"""The interrupts engine, driven by the ScriptedModel: pause, respond, restart, resume anywhere.

Follows Genkit's page "Pause generation using interrupts" (askQuestion, transferMoney) and checks
both what the caller gets back and what the model was sent (``model.requests``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from intermission import (
    Intermission,
    MaxTurnsError,
    ModelRequest,
    Resume,
    ResumeError,
    SchemaError,
    ScriptedModel,
    Tool,
    ToolContext,
    ToolError,
    ToolInterrupt,
    UnknownToolError,
    UsageError,
    reply,
    tool_call,
)
from intermission_schemas import (
    Marker,
    Message,
    PausedGeneration,
    TextPart,
    ToolRequest,
    ToolRequestPart,
    ToolResponse,
    ToolResponsePart,
    decode_messages,
    encode,
    tool_request_refs,
    with_ref,
)
from pydantic import BaseModel

# -- the seed's tools --------------------------------------------------------------------------


class Question(BaseModel):
    choices: list[str]
    allowOther: bool | None = None


class TransferInput(BaseModel):
    toAccountId: str
    amount: int


class TransferOutput(BaseModel):
    status: str
    message: str | None = None


QUESTION = {"choices": ["Casablanca", "Vertigo", "Psycho"], "allowOther": False}
BIG_TRANSFER = {"toAccountId": "ABC123", "amount": 100000}
CONFIRM = {"message": "Please confirm sending an amount > $100."}


def define_ask(ai: Intermission) -> Tool:
    return ai.define_interrupt(
        name="askQuestion",
        description="use this to ask the user a clarifying question",
        input_schema=Question,
        output_schema=str,
    )


class Transfers:
    """transferMoney as on the seed page, recording every transfer it actually makes."""

    def __init__(self, ai: Intermission) -> None:
        self.done: list[TransferInput] = []
        self.contexts: list[tuple[Any, Any]] = []

        @ai.define_tool(name="transferMoney", description="Transfers money between accounts.")
        async def transfer_money(input: TransferInput, ctx: ToolContext) -> TransferOutput:
            resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
            self.contexts.append((ctx.resumed, ctx.original_input))
            if resumed.get("status") == "REJECTED":
                return TransferOutput(status="REJECTED", message="The user rejected the transaction.")
            if resumed.get("status") != "APPROVED" and input.amount > 10000:
                ctx.interrupt(CONFIRM)
            self.done.append(input)
            return TransferOutput(status="OK", message=f"sent {input.amount} to {input.toAccountId}")

        self.tool = transfer_money


class Lookups:
    """An ordinary tool that counts its calls."""

    def __init__(self, ai: Intermission, name: str = "lookup") -> None:
        self.calls: list[Any] = []
        self.refs: list[str | None] = []

        async def lookup(input: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
            self.calls.append(input)
            self.refs.append(ctx.ref)
            return {"found": input.get("q", ""), "n": len(self.calls)}

        self.tool = ai.define_tool(lookup, name=name, description="looks something up")


def roles(messages: list[Message]) -> list[str]:
    return [m.role for m in messages]


def request_part(message: Message, ref: str, position: int = 1) -> ToolRequestPart:
    """The request ``ref`` names in ``message`` (at ``position`` in its history), as stored."""
    refs = tool_request_refs(message, position)
    return next(p for i, p in enumerate(message.content) if refs.get(i) == ref)


def responses(message: Message) -> list[ToolResponsePart]:
    assert message.role == "tool"
    return [p for p in message.content if isinstance(p, ToolResponsePart)]


# -- a pure interrupt ------------------------------------------------------------------------


async def test_pure_interrupt_pauses_and_resumes_with_respond() -> None:
    model = ScriptedModel([reply("Here is a question.", tool_call("askQuestion", QUESTION)), "Correct!"])
    ai = Intermission(model=model)
    ask = define_ask(ai)

    response = await ai.generate(prompt="Ask me a movie trivia question.", tools=[ask])

    assert response.finish_reason == "interrupted"
    assert len(response.interrupts) == 1
    interrupt = response.interrupts[0]
    assert interrupt.tool_request.name == "askQuestion"
    assert interrupt.tool_request.input == QUESTION
    assert interrupt.tool_request.ref
    assert interrupt.interrupt is True
    assert interrupt.metadata == {Marker.INTERRUPT: True}
    assert roles(response.messages) == ["user", "model"]
    # The history holds the request as the model sent it, without a ref; the interrupt carries
    # the ref the service names it by.
    stored = response.messages[-1].content[1]
    assert isinstance(stored, ToolRequestPart)
    assert stored.tool_request.ref is None
    assert with_ref(stored, "askQuestion-1-1") == interrupt
    assert response.text == "Here is a question."
    # The model saw the interrupt as an ordinary tool, with its schemas.
    assert len(model.requests) == 1
    sent = model.requests[0]
    assert sent.tools == [ask.definition]
    assert sent.tools[0].metadata == {"interrupt": True}
    assert sent.tools[0].output_schema == {"type": "string"}
    assert sent.tools[0].input_schema is not None
    assert set(sent.tools[0].input_schema["properties"]) == {"choices", "allowOther"}
    assert sent.messages == [Message(role="user", content=[TextPart("Ask me a movie trivia question.")])]

    paused_messages = list(response.messages)
    answer = ask.respond(interrupt, "Casablanca")
    final = await ai.generate(messages=response.messages, tools=[ask], resume=Resume(respond=[answer]))

    assert final.finish_reason == "stop"
    assert final.text == "Correct!"
    assert final.interrupts == []
    assert roles(final.messages) == ["user", "model", "tool", "model"]
    ref = interrupt.tool_request.ref
    part = request_part(final.messages[1], ref)
    assert not part.is_interrupted
    assert part.interrupt is None
    assert part.metadata == {Marker.RESOLVED_INTERRUPT: True}
    assert part.tool_request == stored.tool_request
    [tool_response] = responses(final.messages[2])
    assert tool_response.tool_response == ToolResponse(name="askQuestion", ref=None, output="Casablanca")
    assert tool_response.metadata == {Marker.INTERRUPT_RESPONSE: True}
    # The model got the answered history, and only once more.
    assert len(model.requests) == 2
    assert model.requests[1].messages == final.messages[:3]
    # Resuming did not change the paused response's history.
    assert response.messages == paused_messages
    assert response.messages[-1].tool_requests[0].is_interrupted


async def test_respond_metadata_is_kept_on_the_tool_response() -> None:
    model = ScriptedModel([reply(tool_call("askQuestion", QUESTION)), "ok"])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    response = await ai.generate(prompt="q", tools=[ask])
    answer = ask.respond(response.interrupts[0], "Vertigo", metadata={"answeredBy": "alice"})
    final = await ai.generate(messages=response.messages, tools=[ask], resume=Resume(respond=[answer]))
    [tool_response] = responses(final.messages[2])
    assert tool_response.metadata == {Marker.INTERRUPT_RESPONSE: {"answeredBy": "alice"}}


# -- several interrupts in one turn -----------------------------------------------------------


async def two_questions() -> tuple[Intermission, ScriptedModel, Tool, Any]:
    model = ScriptedModel(
        [
            reply(
                tool_call("askQuestion", {"choices": ["red", "blue"]}),
                tool_call("askQuestion", {"choices": ["cake", "pie"]}),
            ),
            "Red cake it is.",
        ]
    )
    ai = Intermission(model=model)
    ask = define_ask(ai)
    response = await ai.generate(prompt="plan a party", tools=[ask])
    return ai, model, ask, response


async def test_several_interrupts_in_one_turn_are_all_answered() -> None:
    ai, model, ask, response = await two_questions()
    assert response.finish_reason == "interrupted"
    assert len(response.interrupts) == 2
    refs = [i.tool_request.ref for i in response.interrupts]
    assert len(set(refs)) == 2

    # Answers may come in any order; responses follow the order of the requests.
    answers = [ask.respond(response.interrupts[1], "pie"), ask.respond(response.interrupts[0], "red")]
    final = await ai.generate(messages=response.messages, tools=[ask], resume=Resume(respond=answers))

    assert final.text == "Red cake it is."
    # Genkit's history: each response carries its request's ref as the model sent it (none).
    assert [(r.tool_response.ref, r.tool_response.output) for r in responses(final.messages[2])] == [
        (None, "red"),
        (None, "pie"),
    ]
    assert all(p.metadata == {Marker.RESOLVED_INTERRUPT: True} for p in final.messages[1].tool_requests)
    assert len(model.requests) == 2


async def test_answering_only_some_interrupts_is_missing_answer() -> None:
    ai, model, ask, response = await two_questions()
    second_ref = response.interrupts[1].tool_request.ref
    with pytest.raises(ResumeError) as caught:
        await ai.generate(
            messages=response.messages,
            tools=[ask],
            resume=Resume(respond=[ask.respond(response.interrupts[0], "red")]),
        )
    assert caught.value.code == "missing_answer"
    assert caught.value.ref == second_ref
    assert second_ref in str(caught.value)
    assert len(model.requests) == 1


# -- a normal tool and an interrupt in one turn ----------------------------------------------


async def test_normal_tool_beside_an_interrupt_runs_once_and_is_replayed() -> None:
    model = ScriptedModel(
        [reply(tool_call("lookup", {"q": "venues"}), tool_call("askQuestion", QUESTION)), "Booked."]
    )
    ai = Intermission(model=model)
    ask = define_ask(ai)
    lookups = Lookups(ai)

    response = await ai.generate(prompt="plan", tools=[lookups.tool, ask])

    assert response.finish_reason == "interrupted"
    assert lookups.calls == [{"q": "venues"}]
    [interrupt] = response.interrupts
    assert interrupt.tool_request.name == "askQuestion"
    paused = response.messages[-1]
    lookup_part = paused.tool_requests[0]
    assert lookup_part.tool_request.name == "lookup"
    assert not lookup_part.is_interrupted
    assert lookup_part.metadata == {Marker.PENDING_OUTPUT: {"found": "venues", "n": 1}}

    final = await ai.generate(
        messages=response.messages,
        tools=[lookups.tool, ask],
        resume=Resume(respond=[ask.respond(interrupt, "Casablanca")]),
    )

    assert lookups.calls == [{"q": "venues"}]  # exactly once across pause and resume
    assert final.text == "Booked."
    model_message, tool_message = final.messages[1], final.messages[2]
    # pendingOutput is consumed; as Genkit JS writes it, an empty metadata object stays.
    assert model_message.tool_requests[0].metadata == {}
    replayed, answered = responses(tool_message)
    assert replayed.tool_response == ToolResponse(
        name="lookup", ref=lookup_part.tool_request.ref, output={"found": "venues", "n": 1}
    )
    assert replayed.metadata == {Marker.SOURCE: "pending"}
    assert answered.tool_response.output == "Casablanca"
    assert answered.metadata == {Marker.INTERRUPT_RESPONSE: True}
    assert model.requests[1].messages[-1] == tool_message


async def test_a_none_output_is_kept_as_pending_output() -> None:
    model = ScriptedModel(
        [reply(tool_call("notify", {}), tool_call("confirm"), tool_call("spend", {"amount": 1})), "ok"]
    )
    ai = Intermission(model=model)
    confirm = ai.define_interrupt(name="confirm", description="any answer, even null")
    approvals = Approvals(ai)
    notified: list[Any] = []

    @ai.define_tool(description="returns nothing")
    async def notify(input: Any, ctx: ToolContext) -> None:
        notified.append(input)

    tools = [notify, confirm, approvals.tool]
    response = await ai.generate(prompt="go", tools=tools)
    assert response.messages[-1].tool_requests[0].metadata == {Marker.PENDING_OUTPUT: None}
    # Survives storage as bytes, too.
    paused = Intermission.load_paused(encode(response.to_paused()))
    _, question, spend = paused.messages[-1].tool_requests

    # An answer of None waits as pending output while the restarted tool pauses again.
    second = await ai.generate(
        messages=paused.messages,
        tools=tools,
        resume=Resume(
            respond=[confirm.respond(question, None)],
            restart=[approvals.tool.restart(spend, {"approvedLevel": 1})],
        ),
    )
    assert second.messages[-1].tool_requests[1].metadata == {
        Marker.RESOLVED_INTERRUPT: True,
        Marker.PENDING_OUTPUT: None,
    }
    final = await ai.generate(
        messages=second.messages,
        tools=tools,
        resume=Resume(restart=[approvals.tool.restart(second.interrupts[0], {"approvedLevel": 2})]),
    )
    assert final.text == "ok"
    assert [r.tool_response.output for r in responses(final.messages[2])] == [None, None, {"spent": 1}]
    assert notified == [{}]


# -- respond validation -----------------------------------------------------------------------


async def test_respond_checks_the_output_type() -> None:
    model = ScriptedModel([reply(tool_call("askQuestion", QUESTION))])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    response = await ai.generate(prompt="q", tools=[ask])
    interrupt = response.interrupts[0]
    with pytest.raises(ResumeError) as caught:
        ask.respond(interrupt, 42)
    assert caught.value.code == "invalid_output"
    assert caught.value.ref == interrupt.tool_request.ref
    assert "askQuestion" in str(caught.value)


async def test_respond_checks_a_pydantic_output_and_names_the_field() -> None:
    model = ScriptedModel([reply(tool_call("transferMoney", BIG_TRANSFER))])
    ai = Intermission(model=model)
    transfers = Transfers(ai)
    response = await ai.generate(prompt="Transfer $1000 to account ABC123", tools=[transfers.tool])
    interrupt = response.interrupts[0]

    with pytest.raises(ResumeError) as caught:
        transfers.tool.respond(interrupt, {"status": ["not", "a", "string"]})
    assert caught.value.code == "invalid_output"
    assert caught.value.field == "status"
    assert "'status'" in str(caught.value)

    with pytest.raises(ResumeError) as missing:
        transfers.tool.respond(interrupt, {"message": "no status"})
    assert missing.value.code == "invalid_output"
    assert missing.value.field == "status"

    # A valid answer is dumped to JSON data.
    ok = transfers.tool.respond(interrupt, TransferOutput(status="MANUAL"))
    assert ok.tool_response.output == {"status": "MANUAL"}


async def test_hand_built_responses_are_validated_at_resume() -> None:
    model = ScriptedModel(
        [reply(tool_call("askQuestion", QUESTION), tool_call("transferMoney", BIG_TRANSFER)), "never"]
    )
    ai = Intermission(model=model)
    ask = define_ask(ai)
    transfers = Transfers(ai)
    response = await ai.generate(prompt="q", tools=[ask, transfers.tool])
    ask_ref, transfer_ref = (i.tool_request.ref for i in response.interrupts)

    def by_hand(name: str, ref: str | None, output: Any) -> ToolResponsePart:
        return ToolResponsePart(ToolResponse(name=name, ref=ref, output=output))

    good_transfer = by_hand("transferMoney", transfer_ref, {"status": "OK"})
    with pytest.raises(ResumeError) as caught:
        await ai.generate(
            messages=response.messages,
            tools=[ask, transfers.tool],
            resume=Resume(respond=[by_hand("askQuestion", ask_ref, 42), good_transfer]),
        )
    assert caught.value.code == "invalid_output"
    assert caught.value.ref == ask_ref

    with pytest.raises(ResumeError) as field:
        await ai.generate(
            messages=response.messages,
            tools=[ask, transfers.tool],
            resume=Resume(
                respond=[
                    by_hand("askQuestion", ask_ref, "fine"),
                    by_hand("transferMoney", transfer_ref, {"status": 7}),
                ]
            ),
        )
    assert field.value.code == "invalid_output"
    assert field.value.field == "status"
    assert "status" in str(field.value)
    assert len(model.requests) == 1
    assert transfers.done == []


# -- restart with resumed metadata -------------------------------------------------------------


async def paused_transfer(
    *script: Any, amount: int = 100000
) -> tuple[Intermission, ScriptedModel, Transfers, Any]:
    model = ScriptedModel(
        [reply(tool_call("transferMoney", {"toAccountId": "ABC123", "amount": amount})), *script]
    )
    ai = Intermission(model=model)
    transfers = Transfers(ai)
    response = await ai.generate(prompt="Transfer $1000 to account ABC123", tools=[transfers.tool])
    return ai, model, transfers, response


async def test_small_transfer_does_not_interrupt() -> None:
    _, model, transfers, response = await paused_transfer("Sent.", amount=500)
    assert response.finish_reason == "stop"
    assert [t.amount for t in transfers.done] == [500]
    [tool_response] = responses(response.messages[2])
    assert tool_response.tool_response.output == {"status": "OK", "message": "sent 500 to ABC123"}
    assert len(model.requests) == 2


async def test_restart_approved_transfers_once() -> None:
    ai, model, transfers, response = await paused_transfer("Transferred.")
    assert response.finish_reason == "interrupted"
    [interrupt] = response.interrupts
    assert interrupt.interrupt == CONFIRM
    assert transfers.done == []
    assert transfers.contexts == [(None, None)]

    restart = transfers.tool.restart(interrupt, {"status": "APPROVED"})
    # Genkit's restartTool shape: the interrupt's metadata plus resumed.
    assert restart.metadata == {Marker.INTERRUPT: CONFIRM, Marker.RESUMED: {"status": "APPROVED"}}
    final = await ai.generate(
        messages=response.messages, tools=[transfers.tool], resume=Resume(restart=[restart])
    )

    assert final.finish_reason == "stop"
    assert final.text == "Transferred."
    assert [(t.toAccountId, t.amount) for t in transfers.done] == [("ABC123", 100000)]
    assert transfers.contexts[-1] == ({"status": "APPROVED"}, None)
    ref = interrupt.tool_request.ref
    part = request_part(final.messages[1], ref)
    # As Genkit records it: the model's request untouched but for resolvedInterrupt.
    assert part.metadata == {Marker.RESOLVED_INTERRUPT: CONFIRM}
    assert part.tool_request.input == BIG_TRANSFER
    assert final.messages[2].metadata == {Marker.RESUMED: True}
    [tool_response] = responses(final.messages[2])
    assert tool_response.tool_response == ToolResponse(
        name="transferMoney", ref=None, output={"status": "OK", "message": "sent 100000 to ABC123"}
    )
    assert len(model.requests) == 2
    assert model.requests[1].messages == final.messages[:3]


async def test_restart_rejected_returns_the_rejection() -> None:
    ai, _, transfers, response = await paused_transfer("Cancelled.")
    restart = transfers.tool.restart(response.interrupts[0], {"status": "REJECTED"})
    final = await ai.generate(
        messages=response.messages, tools=[transfers.tool], resume=Resume(restart=[restart])
    )
    assert final.text == "Cancelled."
    assert transfers.done == []
    [tool_response] = responses(final.messages[2])
    assert tool_response.tool_response.output == {
        "status": "REJECTED",
        "message": "The user rejected the transaction.",
    }


async def test_restart_replace_input_is_validated() -> None:
    ai, model, transfers, response = await paused_transfer("never")
    interrupt = response.interrupts[0]
    with pytest.raises(ResumeError) as caught:
        transfers.tool.restart(interrupt, replace_input={"toAccountId": "ABC123", "amount": "lots"})
    assert caught.value.code == "invalid_input"
    assert caught.value.field == "amount"
    assert caught.value.ref == interrupt.tool_request.ref

    # Built by hand, past restart(): still checked when the resume runs.
    sneaky = ToolRequestPart(
        ToolRequest(name="transferMoney", ref=interrupt.tool_request.ref, input={"amount": 1}),
        metadata={Marker.RESUMED: True, Marker.REPLACED_INPUT: BIG_TRANSFER},
    )
    with pytest.raises(ResumeError) as at_resume:
        await ai.generate(messages=response.messages, tools=[transfers.tool], resume=Resume(restart=[sneaky]))
    assert at_resume.value.code == "invalid_input"
    assert at_resume.value.field == "toAccountId"
    assert transfers.done == []
    assert len(model.requests) == 1


async def test_restart_replace_input_runs_with_the_new_input() -> None:
    ai, _, transfers, response = await paused_transfer("Sent the smaller amount.")
    interrupt = response.interrupts[0]
    new_input = {"toAccountId": "ABC123", "amount": 5000}
    restart = transfers.tool.restart(interrupt, replace_input=new_input)
    assert restart.metadata == {
        Marker.INTERRUPT: CONFIRM,
        Marker.RESUMED: True,
        Marker.REPLACED_INPUT: BIG_TRANSFER,
    }

    final = await ai.generate(
        messages=response.messages, tools=[transfers.tool], resume=Resume(restart=[restart])
    )

    assert [t.amount for t in transfers.done] == [5000]
    assert transfers.contexts[-1] == (True, BIG_TRANSFER)  # ctx.resumed, ctx.original_input
    part = final.messages[1].tool_requests[0]
    # Genkit keeps the model's request as the model sent it; the new input ran all the same.
    assert part.tool_request.input == BIG_TRANSFER
    assert part.metadata == {Marker.RESOLVED_INTERRUPT: CONFIRM}
    [tool_response] = responses(final.messages[2])
    assert tool_response.tool_response.output == {"status": "OK", "message": "sent 5000 to ABC123"}


async def test_restart_cannot_change_the_input_without_saying_so() -> None:
    ai, _, transfers, response = await paused_transfer("Sent.")
    ref = response.interrupts[0].tool_request.ref
    # A different input but no replacedInput marker: the stored input is what runs.
    forged = ToolRequestPart(
        ToolRequest(name="transferMoney", ref=ref, input={"toAccountId": "EVIL", "amount": 999999}),
        metadata={Marker.RESUMED: {"status": "APPROVED"}},
    )
    final = await ai.generate(
        messages=response.messages, tools=[transfers.tool], resume=Resume(restart=[forged])
    )
    assert [(t.toAccountId, t.amount) for t in transfers.done] == [("ABC123", 100000)]
    assert final.messages[1].tool_requests[0].tool_request.input == BIG_TRANSFER
    assert Marker.REPLACED_INPUT not in (final.messages[1].tool_requests[0].metadata or {})


async def test_restart_of_a_pure_interrupt_is_not_restartable() -> None:
    model = ScriptedModel([reply(tool_call("askQuestion", QUESTION))])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    response = await ai.generate(prompt="q", tools=[ask])
    interrupt = response.interrupts[0]
    with pytest.raises(ResumeError) as caught:
        ask.restart(interrupt, {"status": "APPROVED"})
    assert caught.value.code == "not_restartable"
    assert caught.value.ref == interrupt.tool_request.ref

    by_hand = ToolRequestPart(interrupt.tool_request, metadata={Marker.RESUMED: True})
    with pytest.raises(ResumeError) as at_resume:
        await ai.generate(messages=response.messages, tools=[ask], resume=Resume(restart=[by_hand]))
    assert at_resume.value.code == "not_restartable"
    assert len(model.requests) == 1


async def test_respond_and_restart_reject_another_tools_interrupt() -> None:
    model = ScriptedModel([reply(tool_call("askQuestion", QUESTION))])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    transfers = Transfers(ai)
    response = await ai.generate(prompt="q", tools=[ask, transfers.tool])
    with pytest.raises(UsageError, match="askQuestion"):
        transfers.tool.respond(response.interrupts[0], {"status": "OK"})
    with pytest.raises(UsageError, match="askQuestion"):
        transfers.tool.restart(response.interrupts[0], {"status": "APPROVED"})


# -- interrupting again after a restart --------------------------------------------------------


class Approvals:
    """A tool that needs two approvals, one after the other."""

    def __init__(self, ai: Intermission) -> None:
        self.spent: list[int] = []

        @ai.define_tool(name="spend", description="spends from the budget")
        async def spend(input: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
            level = ctx.resumed.get("approvedLevel", 0) if isinstance(ctx.resumed, dict) else 0
            if level < 1:
                ctx.interrupt({"level": 1, "approver": "manager"})
            if level < 2:
                ctx.interrupt({"level": 2, "approver": "director"})
            self.spent.append(input["amount"])
            return {"spent": input["amount"]}

        self.tool = spend


async def test_a_restarted_tool_can_interrupt_again() -> None:
    model = ScriptedModel([reply(tool_call("spend", {"amount": 50})), "Spent."])
    ai = Intermission(model=model)
    approvals = Approvals(ai)

    first = await ai.generate(prompt="spend 50", tools=[approvals.tool])
    assert first.interrupts[0].interrupt == {"level": 1, "approver": "manager"}
    ref = first.interrupts[0].tool_request.ref

    second = await ai.generate(
        messages=first.messages,
        tools=[approvals.tool],
        resume=Resume(restart=[approvals.tool.restart(first.interrupts[0], {"approvedLevel": 1})]),
    )
    assert second.finish_reason == "interrupted"
    [again] = second.interrupts
    assert again.tool_request.ref == ref
    assert again.interrupt == {"level": 2, "approver": "director"}
    assert again.metadata is not None
    assert again.metadata[Marker.RESUMED] == {"approvedLevel": 1}
    assert roles(second.messages) == ["user", "model"]
    assert len(model.requests) == 1  # the model is not called while still paused
    assert approvals.spent == []

    final = await ai.generate(
        messages=second.messages,
        tools=[approvals.tool],
        resume=Resume(restart=[approvals.tool.restart(again, {"approvedLevel": 2})]),
    )
    assert final.text == "Spent."
    assert approvals.spent == [50]
    part = final.messages[1].tool_requests[0]
    # The history recorded the first restart when the tool paused again (as Genkit JS does);
    # the second restart only resolves it.
    assert part.metadata == {
        Marker.RESOLVED_INTERRUPT: {"level": 2, "approver": "director"},
        Marker.RESUMED: {"approvedLevel": 1},
    }
    assert responses(final.messages[2])[0].tool_response.output == {"spent": 50}
    assert len(model.requests) == 2


async def test_a_responded_interrupt_waits_as_pending_output_while_another_pauses_again() -> None:
    model = ScriptedModel(
        [reply(tool_call("askQuestion", QUESTION), tool_call("spend", {"amount": 70})), "All set."]
    )
    ai = Intermission(model=model)
    ask = define_ask(ai)
    approvals = Approvals(ai)
    tools = [ask, approvals.tool]

    first = await ai.generate(prompt="go", tools=tools)
    question, spend = first.interrupts
    second = await ai.generate(
        messages=first.messages,
        tools=tools,
        resume=Resume(
            respond=[ask.respond(question, "Psycho")],
            restart=[approvals.tool.restart(spend, {"approvedLevel": 1})],
        ),
    )

    assert second.finish_reason == "interrupted"
    assert [i.tool_request.ref for i in second.interrupts] == [spend.tool_request.ref]
    assert second.interrupts[0].interrupt == {"level": 2, "approver": "director"}
    answered = request_part(second.messages[-1], question.tool_request.ref)
    assert not answered.is_interrupted
    assert answered.metadata == {Marker.RESOLVED_INTERRUPT: True, Marker.PENDING_OUTPUT: "Psycho"}

    # The answered question is not asked again: answering it a second time is an unknown ref.
    with pytest.raises(ResumeError) as caught:
        await ai.generate(
            messages=second.messages,
            tools=tools,
            resume=Resume(
                respond=[ask.respond(question, "Vertigo")],
                restart=[approvals.tool.restart(second.interrupts[0], {"approvedLevel": 2})],
            ),
        )
    assert caught.value.code == "unknown_ref"

    final = await ai.generate(
        messages=second.messages,
        tools=tools,
        resume=Resume(restart=[approvals.tool.restart(second.interrupts[0], {"approvedLevel": 2})]),
    )
    assert final.text == "All set."
    assert approvals.spent == [70]
    replayed, spent = responses(final.messages[2])
    assert replayed.tool_response == ToolResponse(name="askQuestion", ref=None, output="Psycho")
    # As Genkit JS writes it: the request's metadata rides on the replayed response.
    assert replayed.metadata == {Marker.RESOLVED_INTERRUPT: True, Marker.SOURCE: "pending"}
    assert spent.tool_response.output == {"spent": 70}
    assert request_part(final.messages[1], question.tool_request.ref).metadata == {
        Marker.RESOLVED_INTERRUPT: True
    }
    assert len(model.requests) == 2


# -- resume errors ---------------------------------------------------------------------------


async def test_resume_refs_must_match_the_pause() -> None:
    ai, model, ask, response = await two_questions()
    first, second = response.interrupts
    first_ref, second_ref = first.tool_request.ref, second.tool_request.ref
    assert first_ref is not None
    assert second_ref is not None

    async def resume(**answers: Any) -> ResumeError:
        with pytest.raises(ResumeError) as caught:
            await ai.generate(messages=response.messages, tools=[ask], resume=Resume(**answers))
        return caught.value

    missing = await resume(respond=[])
    assert missing.code == "missing_answer"
    assert first_ref in str(missing)
    assert second_ref in str(missing)

    duplicate = await resume(
        respond=[ask.respond(first, "red"), ask.respond(first, "blue"), ask.respond(second, "pie")]
    )
    assert duplicate.code == "duplicate_answer"
    assert duplicate.ref == first_ref
    assert first_ref in str(duplicate)

    stray = ToolResponsePart(ToolResponse(name="askQuestion", ref="no-such-ref", output="x"))
    unknown = await resume(respond=[ask.respond(first, "red"), ask.respond(second, "pie"), stray])
    assert unknown.code == "unknown_ref"
    assert unknown.ref == "no-such-ref"
    assert "no-such-ref" in str(unknown)

    wrong_tool = ToolResponsePart(ToolResponse(name="transferMoney", ref=first_ref, output={}))
    mismatch = await resume(respond=[wrong_tool, ask.respond(second, "pie")])
    assert mismatch.code == "unknown_ref"
    assert first_ref in str(mismatch)
    assert "transferMoney" in str(mismatch)
    assert "askQuestion" in str(mismatch)

    not_a_part = await resume(respond=["red"])
    assert not_a_part.code == "unknown_ref"

    assert len(model.requests) == 1


async def test_resume_of_a_history_that_is_not_paused() -> None:
    model = ScriptedModel(["Hello."])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    done = await ai.generate(prompt="hi", tools=[ask])
    assert done.finish_reason == "stop"

    with pytest.raises(ResumeError) as finished:
        await ai.generate(messages=done.messages, tools=[ask], resume=Resume())
    assert finished.value.code == "not_interrupted"

    user_last = [Message(role="user", content=[TextPart("hi")])]
    with pytest.raises(ResumeError) as caught:
        await ai.generate(messages=user_last, tools=[ask], resume=Resume())
    assert caught.value.code == "not_interrupted"

    with pytest.raises(UsageError):
        await ai.generate(messages=[], tools=[ask], resume=Resume())
    with pytest.raises(UsageError, match="prompt"):
        await ai.generate(prompt="more", messages=done.messages, tools=[ask], resume=Resume())
    assert len(model.requests) == 1


async def test_resume_of_a_tool_request_with_neither_interrupt_nor_pending_output() -> None:
    ai, _, ask, response = await two_questions()
    last = response.messages[-1]
    stripped_first = ToolRequestPart(last.tool_requests[0].tool_request)  # markers removed
    edited = Message(role="model", content=[stripped_first, last.content[1]])
    with pytest.raises(ResumeError) as caught:
        await ai.generate(
            messages=[*response.messages[:-1], edited],
            tools=[ask],
            resume=Resume(respond=[ask.respond(response.interrupts[1], "pie")]),
        )
    assert caught.value.code == "not_interrupted"
    assert caught.value.ref == response.interrupts[0].tool_request.ref


# -- resuming in another process ---------------------------------------------------------------


def define_process(script: list[Any]) -> tuple[Intermission, ScriptedModel, Tool, Lookups, Transfers]:
    model = ScriptedModel(script)
    ai = Intermission(model=model)
    ask = define_ask(ai)
    lookups = Lookups(ai)
    transfers = Transfers(ai)
    return ai, model, ask, lookups, transfers


async def test_a_pause_stored_as_bytes_resumes_identically_in_a_fresh_instance() -> None:
    first_turn = reply(
        "Checking.",
        tool_call("lookup", {"q": "balance"}),
        tool_call("askQuestion", QUESTION),
        tool_call("transferMoney", BIG_TRANSFER),
    )
    remaining = ["All done."]
    ai, model, ask, lookups, transfers = define_process([first_turn, *remaining])
    tools = [lookups.tool, ask, transfers.tool]
    response = await ai.generate(prompt="pay and ask", tools=tools, system="be careful")
    assert response.finish_reason == "interrupted"
    stored = encode(response.to_paused())

    in_place = await ai.generate(
        messages=response.messages,
        tools=tools,
        resume=Resume(
            respond=[ask.respond(response.interrupts[0], "Casablanca")],
            restart=[transfers.tool.restart(response.interrupts[1], {"status": "APPROVED"})],
        ),
    )

    ai2, model2, ask2, lookups2, transfers2 = define_process(list(remaining))
    paused = Intermission.load_paused(stored)
    assert isinstance(paused, PausedGeneration)
    assert paused.messages == response.messages
    assert paused.interrupts == response.interrupts
    elsewhere = await ai2.generate(
        messages=paused.messages,
        tools=[lookups2.tool, ask2, transfers2.tool],
        resume=Resume(
            respond=[ask2.respond(paused.interrupts[0], "Casablanca")],
            restart=[transfers2.tool.restart(paused.interrupts[1], {"status": "APPROVED"})],
        ),
    )

    assert elsewhere.text == in_place.text == "All done."
    assert encode(elsewhere.messages) == encode(in_place.messages)
    assert decode_messages(encode(elsewhere.messages)) == in_place.messages
    assert encode(model2.requests[0]) == encode(model.requests[1])
    assert lookups.calls == [{"q": "balance"}]
    assert lookups2.calls == []  # the pending output came from the bytes, not a second run
    assert len(transfers.done) == len(transfers2.done) == 1


async def test_load_paused_rejects_interrupts_that_disagree_with_the_history() -> None:
    model = ScriptedModel(
        [reply(tool_call("askQuestion", QUESTION), tool_call("transferMoney", BIG_TRANSFER))]
    )
    ai = Intermission(model=model)
    define_ask(ai)
    transfers = Transfers(ai)
    response = await ai.generate(prompt="q", tools=["askQuestion", transfers.tool])
    stored = encode(response.to_paused())
    assert Intermission.load_paused(stored).interrupts == response.interrupts

    document = json.loads(stored)
    dropped = {**document, "interrupts": document["interrupts"][:1]}
    edited = json.loads(stored)
    edited["interrupts"][1]["toolRequest"]["input"]["amount"] = 1
    reordered = {**document, "interrupts": document["interrupts"][::-1]}
    invented = {**document, "messages": document["messages"][:1]}
    for tampered in (dropped, edited, reordered, invented):
        with pytest.raises(ResumeError) as caught:
            Intermission.load_paused(json.dumps(tampered).encode())
        assert caught.value.code == "not_interrupted"


# -- tool failures and interrupts inside tools -------------------------------------------------


async def test_a_failing_tool_raises_tool_error_with_the_cause() -> None:
    model = ScriptedModel([reply(tool_call("explode", {"why": "test"}))])
    ai = Intermission(model=model)

    @ai.define_tool(description="always fails")
    async def explode(input: dict[str, Any], ctx: ToolContext) -> str:
        raise ValueError("kaboom")

    with pytest.raises(ToolError) as caught:
        await ai.generate(prompt="go", tools=[explode])
    assert caught.value.tool == "explode"
    assert caught.value.ref == "explode-1-0"
    assert isinstance(caught.value.__cause__, ValueError)
    assert str(caught.value.__cause__) == "kaboom"


async def test_a_failing_tool_beside_others_keeps_its_cause() -> None:
    model = ScriptedModel([reply(tool_call("lookup", {"q": "x"}), tool_call("explode"))])
    ai = Intermission(model=model)
    lookups = Lookups(ai)

    @ai.define_tool(description="always fails")
    async def explode(input: Any, ctx: ToolContext) -> str:
        raise KeyError("missing")

    with pytest.raises(ToolError) as caught:
        await ai.generate(prompt="go", tools=[lookups.tool, explode])
    assert caught.value.tool == "explode"
    assert isinstance(caught.value.__cause__, KeyError)


async def test_except_exception_cannot_swallow_an_interrupt() -> None:
    model = ScriptedModel([reply(tool_call("careful", {}))])
    ai = Intermission(model=model)
    swallowed: list[BaseException] = []

    @ai.define_tool(description="catches everything it can")
    async def careful(input: Any, ctx: ToolContext) -> str:
        try:
            ctx.interrupt({"why": "need a human"})
        except Exception as exc:  # a tool author's broad handler
            swallowed.append(exc)
            return "swallowed"
        return "unreachable"

    assert issubclass(ToolInterrupt, BaseException)
    assert not issubclass(ToolInterrupt, Exception)
    response = await ai.generate(prompt="go", tools=[careful])
    assert response.finish_reason == "interrupted"
    assert response.interrupts[0].interrupt == {"why": "need a human"}
    assert swallowed == []


async def test_normal_tools_in_one_turn_run_concurrently() -> None:
    model = ScriptedModel([reply(tool_call("ping", {}), tool_call("pong", {})), "both ran"])
    ai = Intermission(model=model)
    ping_ready, pong_ready = asyncio.Event(), asyncio.Event()

    async def meet(mine: asyncio.Event, other: asyncio.Event) -> str:
        mine.set()
        # Sequential execution would wait here forever; the timeout keeps the test from hanging.
        await asyncio.wait_for(other.wait(), timeout=2)
        return "met"

    @ai.define_tool(description="")
    async def ping(input: Any, ctx: ToolContext) -> str:
        return await meet(ping_ready, pong_ready)

    @ai.define_tool(description="")
    async def pong(input: Any, ctx: ToolContext) -> str:
        return await meet(pong_ready, ping_ready)

    response = await ai.generate(prompt="go", tools=[ping, pong])
    assert response.text == "both ran"
    assert [r.tool_response.output for r in responses(response.messages[2])] == ["met", "met"]


async def test_tool_context_carries_name_ref_and_context() -> None:
    model = ScriptedModel([reply(tool_call("whoami", {})), "ok"])
    ai = Intermission(model=model)
    seen: list[tuple[str, str | None, Any, Any]] = []

    @ai.define_tool(description="")
    async def whoami(input: Any, ctx: ToolContext) -> str:
        seen.append((ctx.name, ctx.ref, dict(ctx.context), ctx.resumed))
        return "me"

    await ai.generate(prompt="go", tools=[whoami], context={"user": "alice"})
    assert seen == [("whoami", "whoami-1-0", {"user": "alice"}, None)]


# -- misuse ------------------------------------------------------------------------------------


async def test_max_turns_exceeded() -> None:
    def always_a_tool(request: ModelRequest) -> Message:
        return reply(tool_call("lookup", {"q": "again"}))

    model = ScriptedModel(always_a_tool)
    ai = Intermission(model=model)
    lookups = Lookups(ai)
    with pytest.raises(MaxTurnsError) as caught:
        await ai.generate(prompt="loop", tools=[lookups.tool], max_turns=3)
    assert caught.value.max_turns == 3
    assert len(model.requests) == 3
    assert len(lookups.calls) == 3


async def test_no_model_is_a_usage_error() -> None:
    ai = Intermission()
    with pytest.raises(UsageError, match="model"):
        await ai.generate(prompt="hi")


async def test_unknown_names() -> None:
    model = ScriptedModel([reply(tool_call("nonexistent", {}))])
    ai = Intermission(model=model)
    ask = define_ask(ai)
    with pytest.raises(UnknownToolError) as called:
        await ai.generate(prompt="go", tools=[ask])
    assert called.value.name == "nonexistent"
    with pytest.raises(UnknownToolError):
        await ai.generate(prompt="go", tools=["notRegistered"])
    with pytest.raises(UnknownToolError):
        await ai.generate(prompt="go", model="no-such-model")
    with pytest.raises(UsageError, match="already defined"):
        define_ask(ai)


async def test_bad_tool_input_from_the_model_is_a_schema_error() -> None:
    model = ScriptedModel([reply(tool_call("transferMoney", {"toAccountId": "A"}))])
    ai = Intermission(model=model)
    transfers = Transfers(ai)
    with pytest.raises(SchemaError) as caught:
        await ai.generate(prompt="go", tools=[transfers.tool])
    assert caught.value.field == "amount"
    assert transfers.contexts == []


async def test_tool_output_is_validated_against_its_schema() -> None:
    model = ScriptedModel([reply(tool_call("dictOut", {}), tool_call("badOut", {})), "ok"])
    ai = Intermission(model=model)

    # Returning a plain dict, as the seed's transferMoney does, is fine when it fits the schema.
    @ai.define_tool(name="dictOut", description="")
    async def dict_out(input: Any, ctx: ToolContext) -> TransferOutput:
        return {"status": "OK"}  # type: ignore[return-value]

    @ai.define_tool(name="badOut", description="")
    async def bad_out(input: Any, ctx: ToolContext) -> TransferOutput:
        return {"message": "no status"}  # type: ignore[return-value]

    with pytest.raises(SchemaError) as caught:
        await ai.generate(prompt="go", tools=[dict_out, bad_out])
    assert caught.value.field == "status"
    assert "badOut" in str(caught.value)

    model = ScriptedModel([reply(tool_call("dictOut", {})), "ok"])
    response = await ai.generate(prompt="go", tools=[dict_out], model=model)
    assert responses(response.messages[2])[0].tool_response.output == {"status": "OK"}


# -- streaming ---------------------------------------------------------------------------------


async def test_generate_stream_yields_chunks_then_the_response() -> None:
    model = ScriptedModel([reply("Let me ask. ", tool_call("askQuestion", QUESTION)), "Right!"])
    ai = Intermission(model=model)
    ask = define_ask(ai)

    stream = ai.generate_stream(prompt="trivia", tools=[ask])
    chunks = [chunk async for chunk in stream]
    response = await stream.response

    assert [c.text for c in chunks] == ["Let me ask. ", ""]
    assert isinstance(chunks[1].content[0], ToolRequestPart)
    assert response is await stream.response
    assert response is await stream
    assert response.finish_reason == "interrupted"
    assert [i.tool_request.name for i in response.interrupts] == ["askQuestion"]

    resumed = ai.generate_stream(
        messages=response.messages,
        tools=[ask],
        resume=Resume(respond=[ask.respond(response.interrupts[0], "Casablanca")]),
    )
    texts = [(chunk.role, chunk.text) async for chunk in resumed]
    final = await resumed.response
    # The answers come first, as a tool chunk (Genkit JS streams the resume's tool message).
    assert texts == [("tool", ""), ("model", "Right!")]
    assert final.text == "Right!"
    assert final.interrupts == []


async def test_generate_stream_surfaces_a_failure_at_the_end_of_iteration() -> None:
    ai = Intermission(model=ScriptedModel([]))
    stream = ai.generate_stream(prompt="x")
    with pytest.raises(UsageError, match="ran out"):
        async for _ in stream:
            pass
    with pytest.raises(UsageError):
        await stream.response


# -- structured output -------------------------------------------------------------------------


class Trivia(BaseModel):
    question: str
    answer: str


async def test_output_schema_parses_and_validates_the_text() -> None:
    model = ScriptedModel(
        [
            '{"question": "Who directed Vertigo?", "answer": "Hitchcock"}',
            '{"question": "Who?"}',
            "not json",
        ]
    )
    ai = Intermission(model=model)
    response = await ai.generate(prompt="trivia", output_schema=Trivia)
    assert response.output == Trivia(question="Who directed Vertigo?", answer="Hitchcock")
    assert model.requests[0].output_schema == Trivia.model_json_schema()

    incomplete = await ai.generate(prompt="trivia", output_schema=Trivia)
    with pytest.raises(SchemaError) as caught:
        _ = incomplete.output
    assert caught.value.field == "answer"

    garbled = await ai.generate(prompt="trivia", output_schema=Trivia)
    with pytest.raises(SchemaError, match="not JSON"):
        _ = garbled.output


async def test_output_without_a_schema_is_a_schema_error() -> None:
    ai = Intermission(model=ScriptedModel(['{"a": 1}']))
    response = await ai.generate(prompt="x")
    assert ai.model is not None
    with pytest.raises(SchemaError, match="output_schema"):
        _ = response.output


# -- refs --------------------------------------------------------------------------------------


async def test_tool_requests_without_refs_are_stored_without_and_run_with_unique_refs() -> None:
    model = ScriptedModel(
        [
            reply(tool_call("lookup", {"q": "a"}), tool_call("lookup", {"q": "b"})),
            reply(tool_call("lookup", {"q": "c"}), tool_call("lookup", {"q": "d"})),
            "done",
        ]
    )
    ai = Intermission(model=model)
    lookups = Lookups(ai)
    response = await ai.generate(prompt="go", tools=[lookups.tool])
    requests = [p for m in response.messages for p in m.tool_requests]
    # Stored as the model sent them, as Genkit stores them: no ref written in.
    assert [p.tool_request.ref for p in requests] == [None] * 4
    # Each response answers its own request, in order, as Genkit writes it.
    answered = [
        (r.tool_response.ref, r.tool_response.output["found"])
        for m in response.messages
        if m.role == "tool"
        for r in responses(m)
    ]
    assert answered == [(None, p.tool_request.input["q"]) for p in requests]
    # Each tool call saw a ref of its own (idempotency keys are built on it).
    assert sorted(lookups.refs) == ["lookup-1-0", "lookup-1-1", "lookup-3-0", "lookup-3-1"]


async def test_model_refs_are_kept_and_duplicates_renamed() -> None:
    model = ScriptedModel(
        [
            reply(
                tool_call("askQuestion", QUESTION, ref="call-1"),
                tool_call("askQuestion", QUESTION, ref="call-1"),
                # A model-chosen ref that is exactly what the engine would generate next:
                tool_call("askQuestion", QUESTION, ref="askQuestion-1-3"),
                tool_call("askQuestion", QUESTION),
            )
        ]
    )
    ai = Intermission(model=model)
    define_ask(ai)
    response = await ai.generate(prompt="go", tools=["askQuestion"])
    refs = [i.tool_request.ref for i in response.interrupts]
    assert refs[0] == "call-1"
    assert refs[2] == "askQuestion-1-3"
    assert len(set(refs)) == 4
    assert all(refs)
