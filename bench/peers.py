"""Peer frameworks doing the same interrupt -> resume cycle as Intermission.

Every peer runs one scenario, with a scripted model that answers instantly:

1. The caller asks for a transfer. Optionally the conversation already holds
   ``prior_turns`` earlier user/model text exchanges (2 messages each).
2. The model calls a tool that needs a human answer, with input
   ``{"toAccountId": "ABC123", "amount": 100000}``; the run pauses.
3. The paused state is turned into bytes with the framework's own persistence
   and read back, standing in for "stored, then loaded by another process".
   The caller reads the pending request from the *loaded* state.
4. The caller resumes with an approval; the model sees the tool result and
   answers ``"done"``, which the cycle checks.

``setup()`` (untimed) builds the agent/graph and the prior history once;
``cycle()`` (timed) does steps 1-4. Peer libraries are imported lazily inside
the factories, so importing this module has no side effects and works even
when the ``peers`` dependency group is not installed; a factory then raises
``PeerUnavailable`` with the reason, which the harness prints.
"""

# Deliberately no ``from __future__ import annotations``: Genkit and pydantic-ai
# read the handlers' annotations with get_type_hints(), which cannot see names
# imported inside setup(); real annotation objects keep their typed paths on.
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from genkit import Genkit, Message
    from langchain_core.messages import BaseMessage
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph.state import CompiledStateGraph
    from pydantic import TypeAdapter
    from pydantic_ai import Agent
    from pydantic_ai.messages import ModelMessage

# The same tool input in every peer, so JSON payload sizes match.
TRANSFER_INPUT: dict[str, Any] = {"toAccountId": "ABC123", "amount": 100000}
TOOL_NAME = "transfer"
TOOL_CALL_ID = "call_transfer_1"
USER_PROMPT = "Send 100000 to account ABC123."
FINAL_TEXT = "done"
# What the approved tool (or, in interrupt-style APIs, the human) hands back.
TOOL_RESULT: dict[str, Any] = {"status": "sent", "approved": True}


class PeerUnavailable(RuntimeError):
    """A peer cannot run here (not installed, or cannot work offline); str() says why."""


class PeerCycle(Protocol):
    """One framework's interrupt -> resume cycle, as driven by the harness."""

    name: str

    async def setup(self, prior_turns: int) -> None:
        """Build agent/graph and ``prior_turns`` exchanges of history (not timed)."""
        ...

    async def cycle(self) -> None:
        """One timed interrupt -> serialize -> deserialize -> resume -> final answer."""
        ...


def _prior_text(i: int) -> tuple[str, str]:
    """Text of the i-th earlier exchange; identical across peers so byte sizes compare."""
    return (f"Earlier question number {i}: what is my balance?", f"Earlier answer {i}: 4200.")


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


# --------------------------------------------------------------------------
# pydantic-ai: requires_approval tool, DeferredToolRequests output,
# ModelMessagesTypeAdapter for the history, DeferredToolResults to resume.
# --------------------------------------------------------------------------


class PydanticAIPeer:
    def __init__(self) -> None:
        self.name = f"pydantic-ai {_version('pydantic-ai-slim')}"
        self._agent: Agent[None, str | Any] | None = None
        self._history: list[ModelMessage] = []

    async def setup(self, prior_turns: int) -> None:
        from pydantic_ai import Agent, DeferredToolRequests
        from pydantic_ai.messages import (
            ModelMessage,
            ModelRequest,
            ModelResponse,
            TextPart,
            ToolCallPart,
            ToolReturnPart,
            UserPromptPart,
        )
        from pydantic_ai.models.function import AgentInfo, FunctionModel

        def scripted(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
            # First model call of the cycle asks for the tool; once the tool result
            # is in the request, the model is done.
            last = messages[-1]
            if isinstance(last, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in last.parts):
                return ModelResponse(parts=[TextPart(FINAL_TEXT)])
            return ModelResponse(
                parts=[ToolCallPart(TOOL_NAME, dict(TRANSFER_INPUT), tool_call_id=TOOL_CALL_ID)]
            )

        # DeferredToolRequests in output_type is how pydantic-ai lets a run end
        # "paused" instead of raising when a tool needs approval.
        agent: Agent[None, str | DeferredToolRequests] = Agent(
            FunctionModel(scripted), output_type=[str, DeferredToolRequests]
        )

        @agent.tool_plain(requires_approval=True)
        async def transfer(toAccountId: str, amount: int) -> dict[str, Any]:
            """Transfer money; needs a human's approval first."""
            return dict(TOOL_RESULT)

        self._agent = agent
        history: list[ModelMessage] = []
        for i in range(prior_turns):
            q, a = _prior_text(i)
            history.append(ModelRequest(parts=[UserPromptPart(q)]))
            history.append(ModelResponse(parts=[TextPart(a)]))
        self._history = history

    async def cycle(self) -> None:
        from pydantic_ai import DeferredToolRequests, DeferredToolResults
        from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelResponse, ToolCallPart

        agent = self._agent
        assert agent is not None, "setup() first"
        paused = await agent.run(USER_PROMPT, message_history=self._history)
        assert isinstance(paused.output, DeferredToolRequests), paused.output

        # Idiomatic persistence: the documented TypeAdapter over the full history.
        blob: bytes = ModelMessagesTypeAdapter.dump_json(paused.all_messages())
        loaded = ModelMessagesTypeAdapter.validate_json(blob)

        # The "other process" only has the loaded history: find the pending call there.
        last = loaded[-1]
        assert isinstance(last, ModelResponse)
        call_ids = [
            p.tool_call_id for p in last.parts if isinstance(p, ToolCallPart) and p.tool_name == TOOL_NAME
        ]
        resumed = await agent.run(
            message_history=loaded,
            deferred_tool_results=DeferredToolResults(approvals=dict.fromkeys(call_ids, True)),
        )
        assert resumed.output == FINAL_TEXT, resumed.output


def pydantic_ai_peer() -> PeerCycle:
    try:
        import pydantic_ai  # noqa: F401
    except ImportError as e:
        raise PeerUnavailable(f"pydantic-ai not installed ({e}); uv sync --group peers") from e
    return PydanticAIPeer()


# --------------------------------------------------------------------------
# LangGraph: fake-model node + a tools node that calls interrupt(),
# InMemorySaver checkpointer, Command(resume=...).
# --------------------------------------------------------------------------


class LangGraphPeer:
    """LangGraph's persistence *is* its checkpointer, so that is what we use.

    Why no extra explicit "dump to JSON" step: InMemorySaver never keeps live
    objects. On every checkpoint ``put`` it encodes each changed channel with
    the graph's serde (``JsonPlusSerializer.dumps_typed`` -> msgpack bytes, the
    format every LangGraph checkpointer stores), and on every read it decodes
    them with ``loads_typed``. That is the exact encode/decode a durable
    checkpointer (Postgres, SQLite, Redis) does, minus the I/O, and it covers
    the prior history too because it lives in the ``messages`` channel. Adding
    our own JSON dump on top would charge LangGraph for a step nobody does.

    To make "another process resumes" concrete, the paused run is driven by
    graph ``_graph_a`` and resumed by an independently compiled ``_graph_b``
    that shares only the byte store (the saver). The resuming side first reads
    the pending interrupt back from the store (``aget_state``), as a caller in
    a new process must, and resumes by interrupt id.

    The tools node calls ``interrupt()`` directly rather than going through
    ``langgraph.prebuilt.ToolNode``: that is the minimal LangGraph way and
    gives LangGraph the benefit of the doubt on overhead.
    """

    def __init__(self) -> None:
        self.name = f"langgraph {_version('langgraph')}"
        self._saver: InMemorySaver | None = None
        self._graph_a: CompiledStateGraph[Any, Any, Any, Any] | None = None
        self._graph_b: CompiledStateGraph[Any, Any, Any, Any] | None = None
        self._prior: list[BaseMessage] = []

    async def setup(self, prior_turns: int) -> None:
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.graph import END, START, MessagesState, StateGraph
        from langgraph.types import interrupt

        async def model(state: MessagesState) -> dict[str, list[BaseMessage]]:
            # Scripted model: call the tool first, then finish once the result is in.
            if isinstance(state["messages"][-1], ToolMessage):
                return {"messages": [AIMessage(content=FINAL_TEXT)]}
            call = {"name": TOOL_NAME, "args": dict(TRANSFER_INPUT), "id": TOOL_CALL_ID}
            return {"messages": [AIMessage(content="", tool_calls=[call])]}

        async def tools(state: MessagesState) -> dict[str, list[BaseMessage]]:
            last = state["messages"][-1]
            assert isinstance(last, AIMessage)
            call = last.tool_calls[0]
            # First pass raises GraphInterrupt; on resume the node re-runs from
            # its start and interrupt() returns the caller's answer.
            answer = interrupt({"tool": call["name"], "input": call["args"]})
            return {"messages": [ToolMessage(content=json.dumps(answer), tool_call_id=call["id"])]}

        def route(state: MessagesState) -> str:
            last = state["messages"][-1]
            return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

        def build() -> StateGraph[Any, Any, Any, Any]:
            g: StateGraph[Any, Any, Any, Any] = StateGraph(MessagesState)
            g.add_node("model", model)
            g.add_node("tools", tools)
            g.add_edge(START, "model")
            g.add_conditional_edges("model", route, ["tools", END])
            g.add_edge("tools", "model")
            return g

        self._saver = InMemorySaver()
        self._graph_a = build().compile(checkpointer=self._saver)
        self._graph_b = build().compile(checkpointer=self._saver)
        prior: list[BaseMessage] = []
        for i in range(prior_turns):
            q, a = _prior_text(i)
            # Fixed ids: add_messages would otherwise stamp fresh uuids on first use.
            prior.append(HumanMessage(content=q, id=f"h{i}"))
            prior.append(AIMessage(content=a, id=f"a{i}"))
        self._prior = prior

    async def cycle(self) -> None:
        from langchain_core.messages import HumanMessage
        from langchain_core.runnables import RunnableConfig
        from langgraph.types import Command

        graph_a, graph_b = self._graph_a, self._graph_b
        assert graph_a is not None, "setup() first"
        assert graph_b is not None, "setup() first"
        # A fresh thread per cycle: each cycle is a new conversation, like the other
        # peers. Finished threads are left in the saver on purpose: lookups are by
        # key (O(1)), while InMemorySaver.delete_thread scans the whole store.
        config: RunnableConfig = {"configurable": {"thread_id": uuid.uuid4().hex}}
        paused = await graph_a.ainvoke(
            {"messages": [*self._prior, HumanMessage(content=USER_PROMPT)]}, config
        )
        assert paused.get("__interrupt__"), "expected the run to pause"

        # "Process B": read the pending interrupt back from the checkpoint store.
        snapshot = await graph_b.aget_state(config)
        (pending,) = snapshot.interrupts
        assert pending.value["input"] == TRANSFER_INPUT
        resume: Command[Any] = Command(resume={pending.id: dict(TOOL_RESULT)})
        done = await graph_b.ainvoke(resume, config)
        assert done["messages"][-1].content == FINAL_TEXT, done["messages"][-1]


def langgraph_peer() -> PeerCycle:
    try:
        import langgraph.checkpoint.memory  # noqa: F401
    except ImportError as e:
        raise PeerUnavailable(f"langgraph not installed ({e}); uv sync --group peers") from e
    return LangGraphPeer()


# --------------------------------------------------------------------------
# Genkit Python: ai.define_model fake model, ai.define_interrupt tool,
# response.messages dumped/loaded as JSON, resume_respond=respond_to_interrupt.
# --------------------------------------------------------------------------


class GenkitPeer:
    """Genkit Python 0.12 runs fully offline with a model defined via ``ai.define_model``.

    Genkit has no separate "paused state" object: the interrupted tool request
    sits in ``response.messages`` (marked ``metadata.interrupt``), so the
    history *is* the state, as in the JS docs. We dump it with pydantic in
    Genkit's wire form (camelCase aliases, nulls dropped — the same options
    Genkit's own ``dump_part`` uses) and validate it back into ``Message``s.
    """

    def __init__(self) -> None:
        self.name = f"genkit {_version('genkit')}"
        self._ai: Genkit | None = None
        self._prior: list[Message] = []
        self._adapter: TypeAdapter[list[Message]] | None = None

    async def setup(self, prior_turns: int) -> None:
        from genkit import (
            ActionRunContext,
            Genkit,
            Message,
            ModelRequest,
            ModelResponse,
            Part,
        )
        from pydantic import BaseModel, TypeAdapter

        # Genkit() starts a reflection (dev UI) server only when GENKIT_ENV=dev.
        ai = Genkit()

        async def scripted(request: ModelRequest[Any], ctx: ActionRunContext) -> ModelResponse[Any]:
            # Ask for the tool first; answer "done" once a tool response is in.
            last = request.messages[-1]
            if any(p.tool_response is not None for p in last.content):
                reply = Message(role="model", content=[Part(text=FINAL_TEXT)])
            else:
                part = Part.from_tool_request(name=TOOL_NAME, input=dict(TRANSFER_INPUT), ref=TOOL_CALL_ID)
                reply = Message(role="model", content=[part])
            return ModelResponse(message=reply, finish_reason="stop")

        ai.define_model(name="scripted", fn=scripted)

        class TransferInput(BaseModel):
            toAccountId: str  # camelCase: the wire name the model sends
            amount: int

        ai.define_interrupt(
            TOOL_NAME, input_schema=TransferInput, description="Transfer money; needs approval."
        )
        self._ai = ai
        self._adapter = TypeAdapter(list[Message])
        prior: list[Message] = []
        for i in range(prior_turns):
            q, a = _prior_text(i)
            prior.append(Message(role="user", content=[Part(text=q)]))
            prior.append(Message(role="model", content=[Part(text=a)]))
        self._prior = prior

    async def cycle(self) -> None:
        from genkit import respond_to_interrupt

        ai, adapter = self._ai, self._adapter
        assert ai is not None, "setup() first"
        assert adapter is not None, "setup() first"
        paused = await ai.generate(
            model="scripted",
            messages=list(self._prior),
            prompt=USER_PROMPT,
            tools=[TOOL_NAME],
        )
        assert paused.finish_reason == "interrupted", paused.finish_reason

        blob: bytes = adapter.dump_json(paused.messages, by_alias=True, exclude_none=True)
        loaded = adapter.validate_json(blob)

        # The "other process" finds the pending interrupt in the loaded history.
        (pending,) = loaded[-1].interrupts
        resumed = await ai.generate(
            model="scripted",
            messages=loaded,
            tools=[TOOL_NAME],
            resume_respond=respond_to_interrupt(dict(TOOL_RESULT), interrupt=pending),
        )
        assert resumed.text == FINAL_TEXT, resumed.text


def genkit_peer() -> PeerCycle:
    try:
        import genkit  # noqa: F401
    except ImportError as e:
        raise PeerUnavailable(f"genkit not installed ({e}); uv sync --group peers") from e
    return GenkitPeer()


PEERS: list[Callable[[], PeerCycle]] = [pydantic_ai_peer, langgraph_peer, genkit_peer]
