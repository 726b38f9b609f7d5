"""The app the replay tests record runs with, and the second model they replay against.

A run "order N" looks a price up (replay-safe), asks the customer a size (a human answers),
sends an email (an outside effect: counted in EFFECTS), then confirms in text. The second
model behaves the same except for N % 5 == 0, where it asks about colour instead (a question
the original never asked), and N % 5 == 1, where its final text is worded differently.
"""

from __future__ import annotations

from typing import Any

from intermission import Intermission, Message, ModelRequest, ScriptedModel, ToolContext, reply, tool_call
from pydantic import BaseModel

EFFECTS: list[dict[str, Any]] = []  # every email sent for real
LOOKUPS: list[str] = []


def _order(request: ModelRequest) -> int:
    first = next(m for m in request.messages if m.role == "user").text
    return int(first.split()[-1])


def _outputs(request: ModelRequest) -> dict[str, Any]:
    return {
        part.tool_response.name: part.tool_response.output
        for message in request.messages
        if message.role == "tool"
        for part in message.content
    }


def first_model(request: ModelRequest, *, second: bool = False) -> Message:
    n = _order(request)
    done = _outputs(request)
    if "lookupPrice" not in done:
        return reply(tool_call("lookupPrice", {"item": f"item-{n}"}))
    if "askQuestion" not in done:
        if second and n % 5 == 0:
            return reply(tool_call("askQuestion", {"question": "Which colour?", "choices": ["red", "blue"]}))
        return reply(tool_call("askQuestion", {"question": "Which size?", "choices": ["S", "M", "L"]}))
    size = done["askQuestion"]
    if "sendEmail" not in done:
        return reply(tool_call("sendEmail", {"to": f"customer-{n}", "body": f"size {size}"}))
    price = done["lookupPrice"]["price"]
    if second and n % 5 == 1:
        return reply(f"Size {size} is on its way ({price} EUR).")
    return reply(f"Ordered size {size} for {price} EUR.")


def second_model(request: ModelRequest) -> Message:
    return first_model(request, second=True)


class Question(BaseModel):
    question: str
    choices: list[str]


class Email(BaseModel):
    to: str
    body: str


def build(model: Any = None) -> Intermission:
    ai = Intermission(
        model=model or ScriptedModel(first_model), models={"second": ScriptedModel(second_model)}
    )
    ai.define_interrupt(
        name="askQuestion", description="ask the customer", input_schema=Question, output_schema=str
    )

    @ai.define_tool(name="lookupPrice", description="a price from the catalogue", replay_safe=True)
    async def lookup_price(input: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        LOOKUPS.append(input["item"])
        return {"price": 10 + int(input["item"].split("-")[-1])}

    @ai.define_tool(name="sendEmail", description="emails the customer (an outside effect)")
    async def send_email(input: Email, ctx: ToolContext) -> dict[str, Any]:
        EFFECTS.append(input.model_dump())
        return {"sent": True, "id": f"mail-{len(EFFECTS)}"}

    return ai


ai = build()
second = build(ScriptedModel(second_model))
