"""The engine's interception seam: ``generate(use=[...])`` hooks around model and tool calls.

Genkit's ``generate({use: [...]})``: the service's journal and timing plug in here, and so does a
replay's effect policy, instead of wrapping tools and models by copy. The first middleware is the
outermost; interrupts without a function never reach a tool hook; a tool that pauses raises
through the hooks around it, and the pause is the same as without them.
"""

from __future__ import annotations

from typing import Any

from intermission import (
    Intermission,
    Middleware,
    ModelNext,
    ModelRequest,
    ModelResponse,
    Resume,
    ScriptedModel,
    Tool,
    ToolContext,
    ToolInterrupt,
    ToolNext,
    ToolResponsePart,
    reply,
    tool_call,
)


class Recorder(Middleware):
    """Writes what it sees, before and after the call it wraps, into a shared list."""

    def __init__(self, name: str, seen: list[str]) -> None:
        self.name = name
        self.seen = seen

    async def model(self, request: ModelRequest, call_next: ModelNext) -> ModelResponse:
        self.seen.append(f"{self.name} model {len(request.messages)}")
        response = await call_next(request)
        self.seen.append(f"{self.name} model done")
        return response

    async def tool(self, tool: Tool, value: Any, ctx: ToolContext, call_next: ToolNext) -> Any:
        self.seen.append(f"{self.name} tool {tool.name} {ctx.ref}")
        try:
            return await call_next(value, ctx)
        except ToolInterrupt:
            self.seen.append(f"{self.name} tool {tool.name} paused")
            raise


def app_with_tools() -> tuple[Intermission, list[str]]:
    ai = Intermission()
    effects: list[str] = []

    @ai.define_tool(description="looks something up")
    async def lookup(input: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        effects.append(f"lookup {input['q']}")
        return {"found": input["q"]}

    @ai.define_tool(description="moves money once approved")
    async def transfer(input: dict[str, Any], ctx: ToolContext) -> str:
        if ctx.resumed is None:
            ctx.interrupt({"confirm": input["amount"]})
        effects.append(f"transfer {input['amount']}")
        return "sent"

    ai.define_interrupt(name="ask", description="asks the user", output_schema=str)
    return ai, effects


async def test_hooks_see_every_model_and_tool_call_the_first_outermost() -> None:
    ai, effects = app_with_tools()
    model = ScriptedModel([reply(tool_call("lookup", {"q": "rates"}, ref="l1")), reply("done")])
    seen: list[str] = []
    response = await ai.generate(
        prompt="go", tools=["lookup"], model=model, use=[Recorder("outer", seen), Recorder("inner", seen)]
    )
    assert response.text == "done"
    assert effects == ["lookup rates"]
    assert seen == [
        "outer model 1",
        "inner model 1",
        "inner model done",
        "outer model done",
        "outer tool lookup l1",
        "inner tool lookup l1",
        "outer model 3",
        "inner model 3",
        "inner model done",
        "outer model done",
    ]


async def test_a_pause_raises_through_the_hooks_and_an_interrupt_reaches_none() -> None:
    ai, effects = app_with_tools()
    model = ScriptedModel(
        [
            reply(tool_call("transfer", {"amount": 500}, ref="t1"), tool_call("ask", {}, ref="a1")),
            reply("all done"),
        ]
    )
    seen: list[str] = []
    use = [Recorder("hook", seen)]
    paused = await ai.generate(prompt="pay", tools=["transfer", "ask"], model=model, use=use)
    assert paused.finish_reason == "interrupted"
    assert sorted(i.tool_request.name for i in paused.interrupts) == ["ask", "transfer"]
    assert "hook tool transfer paused" in seen
    assert not any("tool ask" in line for line in seen), "an interrupt without a function never runs"
    # The same pause without hooks: the hooks change nothing of what is stored.
    bare = await ai.generate(
        prompt="pay",
        tools=["transfer", "ask"],
        model=ScriptedModel(
            [reply(tool_call("transfer", {"amount": 500}, ref="t1"), tool_call("ask", {}, ref="a1"))]
        ),
    )
    assert bare.messages == paused.messages

    seen.clear()
    pending = {i.tool_request.name: i for i in paused.interrupts}
    resume = Resume(
        restart=[ai.tool("transfer").restart(pending["transfer"])],
        respond=[ai.tool("ask").respond(pending["ask"], "yes")],
    )
    done = await ai.generate(
        messages=paused.messages, resume=resume, tools=["transfer", "ask"], model=model, use=use
    )
    assert done.text == "all done"
    assert effects == ["transfer 500"]
    assert seen[0] == "hook tool transfer t1"


async def test_a_hook_may_answer_without_calling_on() -> None:
    """What a replay does: the tool's recorded output instead of its effect, another model's reply."""
    ai, effects = app_with_tools()

    class Recorded(Middleware):
        async def model(self, request: ModelRequest, call_next: ModelNext) -> ModelResponse:
            if len(request.messages) == 1:
                return await call_next(request)
            return await ScriptedModel([reply("from the stand-in model")]).generate(request)

        async def tool(self, tool: Tool, value: Any, ctx: ToolContext, call_next: ToolNext) -> Any:
            return {"found": "recorded"}

    model = ScriptedModel([reply(tool_call("lookup", {"q": "rates"}, ref="l1"))])
    response = await ai.generate(prompt="go", tools=["lookup"], model=model, use=[Recorded()])
    assert response.text == "from the stand-in model"
    assert effects == [], "the tool's function was never called"
    [_, _, tool_message, _] = response.messages
    [answered] = tool_message.content
    assert isinstance(answered, ToolResponsePart)
    assert answered.tool_response.output == {"found": "recorded"}
