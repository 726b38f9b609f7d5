"""The registry the service tests run: the seed's tools, a typed approval, a scripted model.

A module of its own so that a worker in another process (``INTERMISSION_APP=service_app:ai``)
serves exactly the same tools.
"""

import json
from typing import Literal

from intermission import Intermission, Message, ModelRequest, ToolContext, reply, tool_call
from pydantic import BaseModel

# What the user message asks for -> the tool calls the scripted model makes.
SCRIPTS: dict[str, list[tuple[str, dict[str, object]]]] = {
    "transfer": [("transferMoney", {"toAccountId": "ABC123", "amount": 100000})],
    "two questions": [
        ("askQuestion", {"choices": ["Saturday", "Sunday"]}),
        ("askQuestion", {"choices": ["pizza", "tacos"]}),
    ],
    "review": [("review", {"document": "contract.pdf"})],
    "inline": [("approveRefund", {"orderId": "o-1", "amount": 250})],
    "ghost": [("noSuchTool", {})],
}


def scripted(request: ModelRequest) -> Message:
    last = request.messages[-1]
    if last.role == "tool":
        outputs = [part.tool_response.output for part in last.content]
        return reply(f"done: {outputs}")
    first_user = next(m for m in request.messages if m.role == "user").text
    calls = SCRIPTS.get(first_user, [])
    if not calls:
        return reply(f"echo: {first_user}")
    return reply(*(tool_call(name, args) for name, args in calls))


def planner(request: ModelRequest) -> Message:
    """The planner prompt's own model: two questions, then a plan in the prompt's output schema.

    It says so when it is called without the schema or the config the prompt declares, so a
    resume that lost either shows in the result."""
    if request.output_schema is None or (request.config or {}).get("temperature") != 0.1:
        return reply(f"planner called without its prompt's settings: {request.config}")
    answers = [p.tool_response.output for m in request.messages if m.role == "tool" for p in m.content]
    if len(answers) < 2:
        return reply(
            tool_call("askQuestion", {"choices": [["Saturday", "Sunday"], ["pizza", "tacos"]][len(answers)]})
        )
    return reply(json.dumps({"day": answers[0], "food": answers[1], "plannedBy": "planner-model"}))


def build() -> tuple[Intermission, list[dict[str, object]]]:
    from intermission import ScriptedModel

    ai = Intermission(model=ScriptedModel(scripted), models={"planner-model": ScriptedModel(planner)})
    transfers: list[dict[str, object]] = []

    class Transfer(BaseModel):
        toAccountId: str
        amount: int

    class Review(BaseModel):
        decision: Literal["accept", "decline"]
        note: str

    ai.define_interrupt(name="askQuestion", description="ask the user", output_schema=str)
    ai.define_interrupt(name="review", description="a reviewer decides", output_schema=Review)

    @ai.define_tool(name="transferMoney", description="Transfers money between accounts.")
    async def transfer_money(input: Transfer, ctx: ToolContext) -> dict[str, object]:
        resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
        if resumed.get("status") == "REJECTED":
            return {"status": "REJECTED"}
        if resumed.get("status") != "APPROVED" and input.amount > 10000:
            ctx.interrupt({"message": "Please confirm sending an amount > $100."})
        transfers.append(input.model_dump())
        return {"status": "COMPLETED"}

    class Plan(BaseModel):
        day: str
        food: str
        plannedBy: str

    ai.define_prompt(
        name="planner",
        prompt="plan a party for {{guests}} guests",
        tools=["askQuestion"],
        model="planner-model",
        output_schema=Plan,
        config={"temperature": 0.1},
    )
    return ai, transfers


ai, transfers = build()
