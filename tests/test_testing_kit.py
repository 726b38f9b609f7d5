"""The seed's transferMoney flow end to end, written as a user would: only the public kit.

No broker, no bucket: `intermission.testing.ServiceHarness` runs the production worker on a
MemoryLog and a LocalSnapshotStore, and the production client talks to it through the log.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from intermission import Intermission, Message, ModelRequest, ScriptedModel, ToolContext, reply, tool_call
from intermission.testing import MemoryLog, ServiceHarness
from intermission_producer import (
    AnswerError,
    GenerateRequest,
    IntermissionClient,
    RunCompleted,
    Transport,
)
from intermission_schemas import TextPart
from pydantic import BaseModel


class Transfer(BaseModel):
    toAccountId: str
    amount: int  # integer cents


def build_app() -> tuple[Intermission, list[Transfer]]:
    """The seed's tool, as in its sample: amounts over $100 pause for a confirmation."""

    def model(request: ModelRequest) -> Message:
        last = request.messages[-1]
        if last.role == "tool":
            return reply(f"Done: {[part.tool_response.output for part in last.content]}")
        return reply(tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 100000}))

    ai = Intermission(model=ScriptedModel(model))
    sent: list[Transfer] = []

    @ai.define_tool(name="transferMoney", description="Transfers money between accounts.")
    async def transfer_money(input: Transfer, ctx: ToolContext) -> dict[str, Any]:
        resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
        if resumed.get("status") == "REJECTED":
            return {"status": "REJECTED", "message": "The user rejected the transaction."}
        if resumed.get("status") != "APPROVED" and input.amount > 10000:
            ctx.interrupt({"message": "Please confirm sending an amount > $100."})
        sent.append(input)
        return {"status": "COMPLETED", "message": f"Sent {input.amount} cents to {input.toAccountId}"}

    return ai, sent


def transfer_request(run_id: str) -> GenerateRequest:
    return GenerateRequest(
        run_id=run_id,
        idempotency_key=f"idem-{run_id}",
        messages=[Message(role="user", content=[TextPart("Transfer $1000 to ABC123")])],
        tools=["transferMoney"],
    )


async def test_a_large_transfer_waits_for_approval_then_completes() -> None:
    ai, sent = build_app()

    async with ServiceHarness(ai) as service:
        await service.client.submit(transfer_request("t1"))
        raised = await service.interrupt("t1")

        [pending] = raised.interrupts
        assert (pending.tool, pending.input) == ("transferMoney", {"toAccountId": "ABC123", "amount": 100000})
        assert pending.metadata == {"message": "Please confirm sending an amount > $100."}
        assert sent == []  # nothing moved before the approval

        await service.client.restart(raised, {pending.ref: {"status": "APPROVED"}}, answered_by="alice")
        result = await service.result("t1")

    assert isinstance(result, RunCompleted)
    assert "COMPLETED" in result.text
    assert sent == [Transfer(toAccountId="ABC123", amount=100000)]


async def test_a_rejected_transfer_sends_nothing() -> None:
    ai, sent = build_app()

    async with ServiceHarness(ai) as service:
        await service.client.submit(transfer_request("t2"))
        raised = await service.interrupt("t2")
        await service.client.restart(
            raised, {raised.interrupts[0].ref: {"status": "REJECTED"}}, answered_by="bob"
        )
        result = await service.result("t2")

    assert isinstance(result, RunCompleted)
    assert "REJECTED" in result.text
    assert sent == []


async def test_the_client_waits_and_reads_history_on_the_memory_log() -> None:
    ai, _ = build_app()
    log = MemoryLog()
    transport: Transport = log  # the log is a producer transport, structurally

    service = ServiceHarness(ai, log=log)
    client = IntermissionClient(transport=transport, topics=service.settings.topics)
    async with service, client:
        # An answer that does not fit the published schema never leaves the client.
        await client.submit(transfer_request("t3"))
        raised = await service.interrupt("t3")
        with pytest.raises(AnswerError):
            await client.respond(raised, {"no-such-ref": 1}, answered_by="carol")
        stream = client.interrupts(group_id="approvers", from_beginning=True)
        async with contextlib.aclosing(stream):
            assert await anext(stream) == raised
        await client.restart(raised, {raised.interrupts[0].ref: {"status": "APPROVED"}}, answered_by="c")
        result = await service.result("t3")
        history = await client.history("t3", timeout=5)

    assert isinstance(result, RunCompleted)
    assert history == [raised, result]


async def test_submit_and_wait_returns_a_result_that_needs_no_approval() -> None:
    ai, sent = build_app()
    small = GenerateRequest(
        run_id="t5",
        idempotency_key="idem-t5",
        messages=[Message(role="user", content=[TextPart("Transfer $1 to ABC123")])],
        tools=["transferMoney"],
    )
    ai.model = ScriptedModel(
        lambda request: (
            reply("sent")
            if request.messages[-1].role == "tool"
            else reply(tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 100}))
        )
    )

    async with ServiceHarness(ai) as service:
        result = await service.client.submit_and_wait(small, timeout=5)

    assert isinstance(result, RunCompleted)
    assert (result.run_id, result.text) == ("t5", "sent")
    assert sent == [Transfer(toAccountId="ABC123", amount=100)]
