"""The model/tool loop, and how a resume re-enters it.

A pause is nothing but data: the last model message carries Genkit's markers on its tool
requests (``interrupt`` on the ones waiting, ``pendingOutput`` on the ones that finished), so
any process holding the messages can resume. Nothing here keeps state between calls.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import msgspec
from intermission_schemas import (
    Marker,
    Message,
    Part,
    ToolRequest,
    ToolRequestPart,
    ToolResponse,
    ToolResponsePart,
    pending_interrupts,
    tool_request_refs,
    with_metadata,
    with_ref,
)

from ._middleware import Middleware, ModelNext, model_chain
from ._model import ChunkCallback, Model, ModelChunk, ModelRequest, Usage
from ._response import GenerateResponse, Resume
from ._schema import Schema, to_json_data
from ._tools import Done, Outcome, Paused, Tool
from ._tracing import model_call_span, note_pause, note_reply, recording, tool_call_span
from .errors import MaxTurnsError, ResumeError, UnknownToolError

T = TypeVar("T")

_definition = operator.attrgetter("definition")


class Generation:
    """One call of generate(): the inputs that stay fixed while the loop runs."""

    __slots__ = (
        "call_model",
        "config",
        "context",
        "max_turns",
        "model",
        "on_chunk",
        "output",
        "tools",
        "traced",
        "use",
    )

    def __init__(  # positional: see GenerateResponse.__init__
        self,
        model: Model,
        tools: Mapping[str, Tool],
        context: Mapping[str, Any],
        config: dict[str, Any] | None,
        output: Schema | None,
        max_turns: int,
        on_chunk: ChunkCallback | None,
        use: Sequence[Middleware] = (),
    ) -> None:
        self.model = model
        self.tools = tools
        self.context = context
        self.config = config
        self.output = output
        self.max_turns = max_turns
        self.on_chunk = on_chunk
        self.use = use if use.__class__ is tuple else tuple(use)
        # Without middleware the model is called directly: the loop's cost stays the engine's.
        self.call_model: ModelNext | None = model_chain(model, on_chunk, self.use) if self.use else None
        # Asked once per generation: an SDK installed while it runs records from the next one.
        self.traced = recording()

    async def run(self, messages: list[Message], resume: Resume | None) -> GenerateResponse:
        if resume is not None:
            messages, waiting = await self._resume(messages, resume)
            if waiting:
                return self._paused(messages, None, pending_interrupts(messages))
            if self.on_chunk is not None:
                await self._stream_tools(messages[-1])
        definitions = [*map(_definition, self.tools.values())]
        output_schema = self.output.json_schema if self.output is not None else None
        usage: Usage | None = None
        for _ in range(self.max_turns):
            request = ModelRequest(
                messages=list(messages),
                tools=definitions,
                config=self.config,
                output_schema=output_schema,
            )
            call = self.call_model
            if self.traced:
                with model_call_span() as span:
                    reply = await (
                        self.model.generate(request, self.on_chunk) if call is None else call(request)
                    )
                    note_reply(span, reply)
            else:
                # No span, and no `with` either: a cycle makes two model and two tool calls.
                reply = await (self.model.generate(request, self.on_chunk) if call is None else call(request))
            if reply.usage is not None:
                usage = _add_usage(usage, reply.usage)
            # Stored as the model sent it; a request without a ref is named by tool_request_refs.
            message = reply.message
            requests = [part for part in message.content if isinstance(part, ToolRequestPart)]
            if not requests:
                messages.append(message)
                return GenerateResponse(messages, reply.finish_reason, [], usage, self.output)
            refs = tool_request_refs(message, len(messages))
            tools = self.tools
            for part in requests:  # every name checked before any call is made
                if part.tool_request.name not in tools:
                    raise UnknownToolError("tool", part.tool_request.name)
            calls = [
                self._call(tools[part.tool_request.name], part.tool_request, refs[index])
                for index, part in enumerate(message.content)
                if isinstance(part, ToolRequestPart)
            ]
            # One call, the usual turn, is awaited here: no coroutine of _all around it.
            outcomes = [await calls[0]] if len(calls) == 1 else await _all(calls)
            for outcome in outcomes:
                if outcome.__class__ is Paused:
                    marked = _mark(message, outcomes)
                    messages.append(marked)
                    interrupts = _interrupts(marked, refs)
                    return GenerateResponse(messages, "interrupted", interrupts, usage, self.output)
            messages.append(message)
            messages.append(_tool_message(requests, outcomes))
            if self.on_chunk is not None:
                await self._stream_tools(messages[-1])
        raise MaxTurnsError(self.max_turns)

    async def _stream_tools(self, message: Message) -> None:
        """A tool message as a chunk, as Genkit JS streams it: a UI shows tool output as it comes."""
        assert self.on_chunk is not None, "called only when streaming"
        await self.on_chunk(ModelChunk(content=list(message.content), role="tool"))

    def _paused(
        self, messages: list[Message], usage: Usage | None, interrupts: list[ToolRequestPart]
    ) -> GenerateResponse:
        return GenerateResponse(messages, "interrupted", interrupts, usage, self.output)

    def _tool(self, name: str) -> Tool:
        tool = self.tools.get(name)
        if tool is None:
            raise UnknownToolError("tool", name)
        return tool

    def _call(
        self, tool: Tool, request: ToolRequest, ref: str, resumed: Any = None, original_input: Any = None
    ) -> Coroutine[Any, Any, Outcome]:
        """The run of ``request`` (of ``tool``), to await; the tool sees ``ref`` as ``ctx.ref``
        (the model's, or the derived one). Without an SDK, the tool's own run: no coroutine of
        ours around it."""
        if request.ref != ref:
            request = msgspec.structs.replace(request, ref=ref)
        if not self.traced:
            return tool.run(
                request, self.context, resumed=resumed, original_input=original_input, use=self.use
            )
        return self._traced_call(tool, request, resumed, original_input)

    async def _traced_call(
        self, tool: Tool, request: ToolRequest, resumed: Any, original_input: Any
    ) -> Outcome:
        with tool_call_span(request.name, request.ref) as span:
            outcome = await tool.run(
                request, self.context, resumed=resumed, original_input=original_input, use=self.use
            )
            if isinstance(outcome, Paused):
                note_pause(span)
            return outcome

    async def _resume(self, messages: list[Message], resume: Resume) -> tuple[list[Message], bool]:
        """The history with the answers applied; True when a restarted tool paused again."""
        last, refs, pending = _paused_turn(messages)
        answers = _match_answers(pending, refs, resume)
        parts: list[Part] = list(last.content)
        responses: dict[int, ToolResponsePart] = {}
        restarts: list[tuple[int, ToolRequestPart, ToolRequestPart, Tool]] = []
        for index, part in enumerate(parts):
            if not isinstance(part, ToolRequestPart):
                continue
            metadata = part.metadata or {}
            request = part.tool_request
            ref = refs[index]
            if Marker.PENDING_OUTPUT in metadata:
                parts[index], responses[index] = _replayed(part)
                continue
            if Marker.INTERRUPT not in metadata:
                raise ResumeError(
                    "not_interrupted",
                    f"tool request {ref!r} has neither an interrupt nor pending output",
                    ref=ref,
                )
            answer = answers[index]
            tool = self._tool(request.name)
            if isinstance(answer, ToolResponsePart):
                output = tool.check_output(answer.tool_response.output, ref)
                parts[index] = _resolved(part)
                # Genkit puts the answer in the history as it was given (interruptResponse and all).
                responses[index] = _response(request, output, answer.metadata)
            else:
                if tool.fn is None:  # not restartable
                    raise ResumeError(
                        "not_restartable",
                        f"{tool.name!r} is an interrupt with no function; answer it with respond",
                        ref=ref,
                    )
                restarts.append((index, part, answer, tool))
        waiting = False
        if restarts:
            calls = [self._restart(tool, part, answer, refs[i]) for i, part, answer, tool in restarts]
            outcomes = [await calls[0]] if len(calls) == 1 else await _all(calls)
            for (index, part, answer, _), outcome in zip(restarts, outcomes, strict=True):
                if isinstance(outcome, Paused):
                    parts[index] = _paused_again(part, answer, outcome)
                    waiting = True
                else:
                    # As in Genkit, the history keeps the request as the model sent it; the
                    # restart (its resumed metadata, a replaced input) shows only in the output.
                    parts[index] = _resolved(part)
                    responses[index] = _response(part.tool_request, outcome.output, None)
        if waiting:
            # Answers already settled in this round wait as pending output for the next resume.
            for index, response in responses.items():
                held = parts[index]
                assert isinstance(held, ToolRequestPart)
                parts[index] = _hold(held, response.tool_response.output)
            return [
                *messages[:-1],
                Message(role="model", content=parts, metadata=last.metadata),
            ], True
        model_message = Message(role="model", content=parts, metadata=last.metadata)
        resumed = to_json_data(resume.metadata, "Resume.metadata") if resume.metadata is not None else True
        # Genkit JS writes responses as they settle: answers and replayed output at once, in
        # call order, then restarted tools once they ran. Restarted tools here are in call order
        # too, which is Genkit's whenever they take equal time (README: differences).
        if len(responses) == 1:
            content: list[Part] = list(responses.values())
        else:
            restarted = {restart[0] for restart in restarts}
            content = [responses[i] for i in sorted(responses, key=lambda i: (i in restarted, i))]
        tool_message = Message(role="tool", content=content, metadata={Marker.RESUMED: resumed})
        return [*messages[:-1], model_message, tool_message], False

    async def _restart(self, tool: Tool, part: ToolRequestPart, answer: ToolRequestPart, ref: str) -> Outcome:
        answer_metadata = answer.metadata or {}
        request = part.tool_request
        original_input = None
        # The input comes from the stored history unless the answer explicitly replaces it, so a
        # restart cannot slip in a different input unchecked.
        if Marker.REPLACED_INPUT in answer_metadata:
            new_input = tool.check_input(answer.tool_request.input, ref)
            original_input = request.input
            request = ToolRequest(name=request.name, ref=request.ref, input=new_input)
        return await self._call(
            tool,
            request,
            ref,
            resumed=answer_metadata.get(Marker.RESUMED, True),
            original_input=original_input,
        )


def _paused_turn(
    messages: Sequence[Message],
) -> tuple[Message, dict[int, str], dict[int, ToolRequestPart]]:
    """The paused model turn a resume answers, the ref of each of its tool requests, and its
    pending requests; each by its index in the turn's content."""
    last = messages[-1] if messages else None
    if last is None or last.role != "model":
        raise ResumeError("not_interrupted", "the history does not end in a paused model turn")
    pending: dict[int, ToolRequestPart] = {}
    index = 0
    for part in last.content:  # counted by hand: enumerate costs more than this loop's work
        if isinstance(part, ToolRequestPart) and part.metadata and Marker.INTERRUPT in part.metadata:
            pending[index] = part
        index += 1  # noqa: SIM113
    if not pending:
        raise ResumeError("not_interrupted", "the last model turn has no pending interrupt")
    return last, tool_request_refs(last, len(messages) - 1), pending


def _interrupts(marked: Message, refs: Mapping[int, str]) -> list[ToolRequestPart]:
    """What `pending_interrupts` finds in a history that ends in ``marked``, from the refs the
    turn already derived (at the position ``marked`` took in the history)."""
    return [
        with_ref(part, refs[index])
        for index, part in enumerate(marked.content)
        if isinstance(part, ToolRequestPart) and part.metadata and Marker.INTERRUPT in part.metadata
    ]


def _match_answers(
    pending: Mapping[int, ToolRequestPart], refs: Mapping[int, str], resume: Resume
) -> dict[int, ToolResponsePart | ToolRequestPart]:
    """Each pending request's answer, by its index in the paused turn (as ``pending``).

    An answer names its request by ref (the model's or the derived one, see tool_request_refs).
    An answer without a ref takes every pending request of its tool that the model sent without
    one, as Genkit JS matches name plus ref.
    """
    by_ref = dict(zip(map(refs.__getitem__, pending), pending, strict=True))  # {ref: index}
    answers: dict[int, ToolResponsePart | ToolRequestPart] = {}
    for answer in [*resume.respond, *resume.restart]:
        if isinstance(answer, ToolResponsePart):
            name, ref = answer.tool_response.name, answer.tool_response.ref
        elif isinstance(answer, ToolRequestPart):
            name, ref = answer.tool_request.name, answer.tool_request.ref
        else:
            raise ResumeError("unknown_ref", f"an answer must be a tool part, got {type(answer)!r}")
        if ref is None:
            targets = [
                i for i, p in pending.items() if p.tool_request.ref is None and p.tool_request.name == name
            ]
            if not targets:
                raise ResumeError("unknown_ref", f"no pending interrupt of {name!r} was sent without a ref")
        elif ref in by_ref:
            targets = [by_ref[ref]]
        else:
            raise ResumeError("unknown_ref", f"no pending interrupt has ref {ref!r}", ref=ref)
        for index in targets:
            target = pending[index].tool_request.name
            if target != name:
                raise ResumeError(
                    "unknown_ref", f"ref {ref!r} is an interrupt of {target!r}, not {name!r}", ref=ref
                )
            if index in answers:
                raise ResumeError(
                    "duplicate_answer", f"ref {refs[index]!r} is answered twice", ref=refs[index]
                )
            answers[index] = answer
    if len(answers) < len(pending):  # every answer went to a pending request
        missing = [refs[index] for index in pending if index not in answers]
        raise ResumeError(
            "missing_answer", f"no answer for pending ref(s) {', '.join(missing)}", ref=missing[0]
        )
    return answers


def _resolved(part: ToolRequestPart) -> ToolRequestPart:
    """The request once answered: ``interrupt`` becomes ``resolvedInterrupt``, nothing else moves."""
    metadata = dict(part.metadata or {})
    metadata[Marker.RESOLVED_INTERRUPT] = metadata.pop(Marker.INTERRUPT)
    return ToolRequestPart(part.tool_request, metadata=metadata)


def _paused_again(part: ToolRequestPart, answer: ToolRequestPart, outcome: Paused) -> ToolRequestPart:
    """A restarted request that interrupted again, as Genkit JS records it: the restart part
    (its input, ``resumed`` and ``replacedInput``) with the new interrupt."""
    answer_metadata = answer.metadata or {}
    request = part.tool_request
    replaced = Marker.REPLACED_INPUT in answer_metadata
    if replaced:
        request = ToolRequest(name=request.name, ref=request.ref, input=answer.tool_request.input)
    changes: dict[str, Any] = {
        Marker.RESUMED: answer_metadata.get(Marker.RESUMED, True),
        Marker.REPLACED_INPUT: part.tool_request.input if replaced else None,
    }
    return with_metadata(
        ToolRequestPart(request, metadata=part.metadata), interrupt=outcome.metadata, **changes
    )


def _response(request: ToolRequest, output: Any, metadata: dict[str, Any] | None) -> ToolResponsePart:
    return ToolResponsePart(
        ToolResponse(name=request.name, ref=request.ref, output=output), metadata=metadata
    )


def _mark(message: Message, outcomes: Sequence[Outcome]) -> Message:
    """The model message with each request marked as paused or as finished with pending output;
    ``outcomes`` are its requests', in order."""
    parts: list[Part] = []
    settled = iter(outcomes)
    for part in message.content:
        if isinstance(part, ToolRequestPart):
            outcome = next(settled)
            if isinstance(outcome, Paused):
                # Paused metadata is never None (see Tool.run): nothing for with_metadata to drop.
                metadata = dict(part.metadata) if part.metadata else {}
                metadata[Marker.INTERRUPT] = outcome.metadata
                part = ToolRequestPart(part.tool_request, metadata=metadata)
            else:
                part = _hold(part, outcome.output)
        parts.append(part)
    return Message(role=message.role, content=parts, metadata=message.metadata)


def _replayed(part: ToolRequestPart) -> tuple[ToolRequestPart, ToolResponsePart]:
    """A finished request's stored output replayed as its response, as Genkit JS writes it: the
    request keeps its other metadata (``{}`` when none is left), and the response carries that
    metadata too, with ``source: "pending"``. Genkit Python 0.12 writes only the marker."""
    metadata = dict(part.metadata or {})
    output = metadata.pop(Marker.PENDING_OUTPUT)
    request = ToolRequestPart(part.tool_request, metadata=metadata)
    return request, _response(part.tool_request, output, {**metadata, Marker.SOURCE: "pending"})


def _hold(part: ToolRequestPart, output: Any) -> ToolRequestPart:
    """``part`` with ``output`` as its pendingOutput. Not with_metadata: a None output must stay."""
    return ToolRequestPart(
        part.tool_request, metadata={**(part.metadata or {}), Marker.PENDING_OUTPUT: output}
    )


def _tool_message(requests: Sequence[ToolRequestPart], outcomes: Sequence[Outcome]) -> Message:
    content: list[Part] = []
    for part, outcome in zip(requests, outcomes, strict=True):
        assert isinstance(outcome, Done)
        content.append(_response(part.tool_request, outcome.output, None))
    return Message(role="tool", content=content)


def _add_usage(total: Usage | None, more: Usage | None) -> Usage | None:
    if total is None or more is None:
        return more or total

    def add(a: int | None, b: int | None) -> int | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    return Usage(
        input_tokens=add(total.input_tokens, more.input_tokens),
        output_tokens=add(total.output_tokens, more.output_tokens),
        total_tokens=add(total.total_tokens, more.total_tokens),
    )


async def _all(calls: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Run calls concurrently; the first failure cancels the rest and is raised as itself. (A
    single call is awaited by the caller.)"""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
    except BaseExceptionGroup as failed:
        first = failed.exceptions[0]
    else:
        return [task.result() for task in tasks]
    # Raised outside the handler: `raise ... from None` would wipe the __cause__ a ToolError carries.
    raise first
