"""Seed: "Tools with restartable interrupts": transferMoney asks for confirmation above $100.

The tool interrupts itself; the app asks the user and restarts it with ``{"status": ...}`` as
``ctx.resumed``. Approved, the transfer runs exactly once; rejected, it never runs.
Run: ``uv run python examples/transfer_money.py`` (add ``--reject`` to decline).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from intermission import (
    GenerateResponse,
    Intermission,
    Message,
    ModelRequest,
    Resume,
    ToolContext,
    reply,
    tool_call,
)
from pydantic import BaseModel, Field

from _model import example_model, tool_outputs


class TransferInput(BaseModel):
    toAccountId: str = Field(description="the account id of the transfer destination")
    amount: int = Field(description="the amount in integer cents (100 = $1.00)")


class TransferOutput(BaseModel):
    status: str = Field(description="the outcome of the transfer")
    message: str | None = None


def bank_model(request: ModelRequest) -> Message | str:
    """Stands in for the LLM: calls transferMoney, then reports the outcome the tool returned."""
    outputs = tool_outputs(request)
    if outputs:
        result = outputs[0]
        return f"Transfer {result['status']}: {result.get('message', '')}".strip()
    return reply(tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 100000}))


ai = Intermission(model=example_model(bank_model))

# Every transfer that really happened; a real app would call its payments API here.
LEDGER: list[TransferInput] = []


def doTransfer(input: TransferInput) -> TransferOutput:
    LEDGER.append(input)
    return TransferOutput(
        status="COMPLETED", message=f"Sent ${input.amount / 100:.2f} to {input.toAccountId}."
    )


@ai.define_tool(name="transferMoney", description="Transfers money between accounts.")
async def transferMoney(input: TransferInput, ctx: ToolContext) -> TransferOutput:
    # ctx.resumed is None on the first run and whatever restart() was given afterwards
    resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
    # if the user rejected the transaction
    if resumed.get("status") == "REJECTED":
        return TransferOutput(status="REJECTED", message="The user rejected the transaction.")
    # trigger an interrupt to confirm if amount > $100
    if resumed.get("status") != "APPROVED" and input.amount > 10000:
        ctx.interrupt({"message": "Please confirm sending an amount > $100."})
    # complete the transaction if not interrupted
    return doTransfer(input)


async def requestConfirmation(input: dict[str, Any], *, approve: bool) -> dict[str, str]:
    """Stands in for a real confirmation UI; returns {"status": "APPROVED" | "REJECTED"}."""
    status = "APPROVED" if approve else "REJECTED"
    print(f"  send ${input['amount'] / 100:.2f} to {input['toAccountId']}? -> user: {status}")
    return {"status": status}


@dataclass
class Transferred:
    response: GenerateResponse
    asked: list[Any]  # the interrupt metadata the user was asked to confirm
    transfers: list[TransferInput]  # transfers made during this run


async def main(approve: bool = True) -> Transferred:
    already = len(LEDGER)
    asked: list[Any] = []
    response = await ai.generate(
        tools=[transferMoney],
        prompt="Transfer $1000 to account ABC123",
    )

    while response.interrupts:
        confirmations = []
        # multiple interrupts can be called at once, so we handle them all
        for interrupt in response.interrupts:
            print(f"tool asks: {interrupt.interrupt['message']}")
            asked.append(interrupt.interrupt)
            confirmations.append(
                # use the restart method on our tool to provide ctx.resumed
                transferMoney.restart(
                    interrupt,
                    # send the tool request input to the user to respond
                    await requestConfirmation(interrupt.tool_request.input, approve=approve),
                )
            )

        response = await ai.generate(
            tools=[transferMoney],
            messages=response.messages,
            resume=Resume(restart=confirmations),
        )

    # no more interrupts, we can see the final response
    print(f"model: {response.text}")
    return Transferred(response=response, asked=asked, transfers=LEDGER[already:])


if __name__ == "__main__":
    asyncio.run(main(approve="--reject" not in sys.argv[1:]))
