"""The seed's samples as one app for replay tests: askQuestion (answered by respond) and
transferMoney (approval-gated: paused, then approved, denied, or approved with a new amount by
restart), with no Kafka or S3. ``changed_model`` differs exactly for the orders in CHANGED: it
offers another film, or asks to transfer one more unit."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from intermission import Intermission, Message, ModelRequest, ScriptedModel, ToolContext, reply, tool_call
from intermission.testing import ServiceHarness
from intermission_schemas import GenerateRequest, RunCompleted, TextPart
from pydantic import BaseModel, Field

TRANSFERS: list[dict[str, Any]] = []  # every transfer made for real


def changes(n: int) -> bool:
    return n % 8 in (0, 1, 6)


class TransferInput(BaseModel):
    """The seed's transferMoney input."""

    toAccountId: str
    amount: Annotated[int, Field(gt=0)]


class TransferOutput(BaseModel):
    """What a transfer reports: OK, or REJECTED when the approver denied it."""

    status: Literal["OK", "REJECTED"]
    message: str


class Choices(BaseModel):
    choices: list[str]


def _scripted(request: ModelRequest, *, changed: bool) -> Message:
    words = next(m for m in request.messages if m.role == "user").text.split()
    kind, n = words[0], int(words[-1])
    answered = [p for m in request.messages if m.role == "tool" for p in m.content]
    if answered:
        return reply(f"Done: {outputs(answered)}")
    other = 1 if changed and changes(n) else 0
    if kind == "question":
        return reply(tool_call("askQuestion", {"choices": ["Casablanca", "Vertigo", f"film {n + other}"]}))
    amount = 100 * (n + 2) + other
    return reply(tool_call("transferMoney", {"toAccountId": f"ACC{n}", "amount": amount}))


def outputs(parts: list[Any]) -> str:
    return "; ".join(str(p.tool_response.output) for p in parts)


def original_model(request: ModelRequest) -> Message:
    return _scripted(request, changed=False)


def changed_model(request: ModelRequest) -> Message:
    return _scripted(request, changed=True)


def build() -> Intermission:
    ai = Intermission(model=ScriptedModel(original_model), models={"changed": ScriptedModel(changed_model)})
    ai.define_interrupt(
        name="askQuestion", description="ask the user a question", input_schema=Choices, output_schema=str
    )

    @ai.define_tool(name="transferMoney", description="Transfers money; needs approval above $100.")
    async def transfer(input: TransferInput, ctx: ToolContext) -> TransferOutput:
        if ctx.resumed is None and input.amount > 100:
            ctx.interrupt({"message": f"Confirm sending {input.amount}?"})
        if isinstance(ctx.resumed, dict) and ctx.resumed.get("status") == "REJECTED":
            return TransferOutput(status="REJECTED", message="declined")
        TRANSFERS.append(input.model_dump())
        return TransferOutput(status="OK", message=f"sent {input.amount} to {input.toAccountId}")

    return ai


ai = build()

RUNS = 16  # orders 0..15; kinds cycle question, approve, deny, approve-with-new-input


def kind(n: int) -> str:
    return ["question", "approve", "deny", "replace"][n % 4]


async def record(service: ServiceHarness) -> list[str]:
    ids = []
    for n in range(RUNS):
        run_id = f"seed-{n}"
        text = f"{'question' if kind(n) == 'question' else 'transfer'} order {n}"
        await service.client.submit(
            GenerateRequest(
                run_id=run_id,
                idempotency_key=run_id,
                messages=[Message(role="user", content=[TextPart(text)])],
                tools=["askQuestion", "transferMoney"],
            )
        )
        raised = await service.interrupt(run_id)
        ref = raised.interrupts[0].ref
        match kind(n):
            case "question":
                await service.client.respond(raised, {ref: f"film {n}"}, answered_by="alice")
            case "approve":
                await service.client.restart(raised, {ref: {"status": "APPROVED"}}, answered_by="bob")
            case "deny":
                await service.client.restart(raised, {ref: {"status": "REJECTED"}}, answered_by="bob")
            case _:
                await service.client.restart(
                    raised,
                    {ref: True},
                    replace_input={ref: {"toAccountId": f"ACC{n}", "amount": 50}},
                    answered_by="carol",
                )
        assert isinstance(await service.result(run_id), RunCompleted)
        ids.append(run_id)
    return ids
