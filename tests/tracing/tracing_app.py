"""The app the tracing tests run, in this process and in worker processes
(``INTERMISSION_APP=tracing_app:ai``): a transfer that needs approval, a tool that fails."""

from __future__ import annotations

from intermission import Intermission, Message, ModelRequest, ScriptedModel, ToolContext, reply, tool_call
from pydantic import BaseModel

SCRIPTS = {
    "transfer": ("transferMoney", {"toAccountId": "ABC123", "amount": 100000}),
    "break": ("brokenTool", {}),
}


def scripted(request: ModelRequest) -> Message:
    last = request.messages[-1]
    if last.role == "tool":
        return reply(f"done: {[part.tool_response.output for part in last.content]}")
    name, args = SCRIPTS[next(m for m in request.messages if m.role == "user").text]
    return reply(tool_call(name, args))


class Transfer(BaseModel):
    toAccountId: str
    amount: int


ai = Intermission(model=ScriptedModel(scripted))


@ai.define_tool(name="transferMoney", description="Transfers money; large amounts need approval.")
async def transfer_money(input: Transfer, ctx: ToolContext) -> dict[str, str]:
    resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
    if resumed.get("status") != "APPROVED":
        ctx.interrupt({"message": "Please confirm."})
    return {"status": "COMPLETED"}


@ai.define_tool(name="brokenTool", description="Always fails.")
async def broken_tool(input: dict[str, object], ctx: ToolContext) -> str:
    raise RuntimeError("the bank is closed")
