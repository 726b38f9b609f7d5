"""The registry the worker loads by default: the seed's two tools and a model.

Point ``INTERMISSION_APP`` at your own ``module:attribute`` to serve your tools and prompts.
The model is Gemini when ``GEMINI_API_KEY`` is set, otherwise a scripted stand-in that calls
the first offered tool and then reports what it returned, so the demo runs with no key.
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from intermission_schemas import Message, ToolResponsePart
from pydantic import BaseModel, Field

from ..._app import Intermission
from ..._model import Model, ModelRequest
from ..._scripted import ScriptedModel, reply, tool_call
from ..._tools import ToolContext

_CANNED_INPUT: dict[str, Any] = {
    "transferMoney": {"toAccountId": "ABC123", "amount": 100000},
    "askQuestion": {"choices": ["Saturday", "Sunday"], "allowOther": True},
}

_AMOUNT = re.compile(r"\$\s*(\d[\d,]*(?:\.\d{1,2})?)")
_ACCOUNT = re.compile(r"\bto\s+([A-Za-z0-9][A-Za-z0-9_-]*)")
_CHOICES = re.compile(r":\s*(.+)$")


def _scripted_input(tool: str, prompt: str) -> Any:
    """The call the prompt asks for, read as a person would: "$250 to ZZZ999" is 25000 cents
    to ZZZ999; "...: Monday, Tuesday or Friday" are the choices. What it cannot read stays canned."""
    canned = _CANNED_INPUT.get(tool, {})
    if tool == "transferMoney":
        amount, account = _AMOUNT.search(prompt), _ACCOUNT.search(prompt)
        return {
            "toAccountId": account.group(1) if account else canned["toAccountId"],
            "amount": round(float(amount.group(1).replace(",", "")) * 100) if amount else canned["amount"],
        }
    if tool == "askQuestion":
        listed = _CHOICES.search(prompt)
        words = re.split(r"\s*,\s*|\s+or\s+", listed.group(1).strip(" ?.")) if listed else []
        choices = [w for w in words if w]
        return {**canned, "choices": choices} if len(choices) > 1 else canned
    return canned


def _scripted_turn(request: ModelRequest) -> Message:
    last = request.messages[-1]
    if last.role == "tool":
        outputs = [p.tool_response.output for p in last.content if isinstance(p, ToolResponsePart)]
        return reply(f"Done. Tool results: {outputs}")
    if not request.tools:
        return reply(f"You said: {last.text}")
    tool = request.tools[0]
    return reply(tool_call(tool.name, _scripted_input(tool.name, last.text)))


def _model() -> Model:
    # The Gemini SDK's own convention decides; `intermission worker --model` picks another.
    if os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"):
        from ..._gemini import GeminiModel

        return GeminiModel("gemini-2.5-flash")
    return ScriptedModel(_scripted_turn)


ai = Intermission(model=_model())


class Question(BaseModel):
    choices: list[str] = Field(description="the choices to display to the user")
    allowOther: bool | None = Field(default=None, description="when true, allow write-ins")


ask_question = ai.define_interrupt(
    name="askQuestion",
    description="use this to ask the user a clarifying question",
    input_schema=Question,
    # An answer is text: a blank one is refused (minLength 1) by the page, the SDK and the worker.
    output_schema=Annotated[str, Field(min_length=1, title="Answer")],
)


class Transfer(BaseModel):
    toAccountId: str = Field(min_length=1, description="the account id of the transfer destination")
    amount: int = Field(description="the amount in integer cents (100 = $1.00)")


class TransferResult(BaseModel):
    status: str = Field(description="the outcome of the transfer")
    message: str | None = None


transfers: list[Transfer] = []  # what a real payments API would do; the demo records it


@ai.define_tool(name="transferMoney", description="Transfers money between accounts.")
async def transfer_money(input: Transfer, ctx: ToolContext) -> TransferResult:
    resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
    if resumed.get("status") == "REJECTED":
        return TransferResult(status="REJECTED", message="The user rejected the transaction.")
    if resumed.get("status") != "APPROVED" and input.amount > 10000:
        ctx.interrupt({"message": "Please confirm sending an amount > $100."})
    transfers.append(input)
    return TransferResult(status="COMPLETED", message=f"Sent {input.amount} cents to {input.toAccountId}")
