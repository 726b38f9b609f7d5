"""Tools and interrupts: what the model may call, and how a paused call is answered."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeAlias

import msgspec
from intermission_schemas import (
    Marker,
    ToolDefinition,
    ToolRequest,
    ToolRequestPart,
    ToolResponse,
    ToolResponsePart,
)

from ._middleware import Middleware, tool_chain
from ._schema import Schema, schema_of, to_json_data
from .errors import (
    IntermissionError,
    ResumeError,
    SchemaError,
    ToolError,
    ToolInterrupt,
    UsageError,
)


class ToolContext:
    """The second argument of every tool function."""

    __slots__ = ("context", "idempotency_key", "name", "original_input", "ref", "resumed")

    # Not keyword-only: the engine builds one per tool call, and in Python 3.11 a call of a
    # class with keywords costs more than twice one with positions.
    def __init__(
        self,
        name: str,
        ref: str | None,
        context: Mapping[str, Any],
        resumed: Any = None,
        original_input: Any = None,
        idempotency_key: str | None = None,
    ) -> None:
        self.name = name
        self.ref = ref
        self.context = context
        # The metadata given to restart(); None on a first run, True for a bare restart.
        self.resumed = resumed
        # The input the model first sent, when restart(replace_input=...) changed it; else None.
        self.original_input = original_input
        # Set by the service: the same for every attempt at this one tool call (redelivery,
        # takeover), different for every other call. Hand it to the outside system so that an
        # attempt cut off mid-call and run again has its effect once. None outside the service.
        self.idempotency_key = idempotency_key

    def interrupt(self, metadata: Any = None) -> NoReturn:
        """Pause the generation here. ``metadata`` travels with the interrupt to whoever answers:
        JSON data, or anything that converts to it (pydantic models, dataclasses, Structs)."""
        raise ToolInterrupt(metadata)


ToolFunction: TypeAlias = Callable[[Any, ToolContext], Awaitable[Any]]


# Structs rather than NamedTuples: built in C, where a NamedTuple's __new__ is a Python call,
# and every tool call makes one.
class Done(msgspec.Struct, frozen=True):
    output: Any


class Paused(msgspec.Struct, frozen=True):
    metadata: Any


Outcome: TypeAlias = Done | Paused


class Tool:
    """A tool the model can call. Without a function it is a pure interrupt: it always pauses."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        input_schema: Any = None,
        output_schema: Any = None,
        fn: ToolFunction | None = None,
        replay_safe: bool = False,
    ) -> None:
        if not name:
            raise UsageError("a tool needs a name")
        self.name = name
        # Safe to run again when a stored run is replayed (no outside effect: a lookup, a
        # computation). An unsafe tool gets its recorded output in a replay instead.
        self.replay_safe = replay_safe
        self.description = description
        self.input: Schema = schema_of(input_schema)
        self.output: Schema = schema_of(output_schema)
        self.fn = fn
        # What a failed check names, formatted once rather than on every call.
        self._input_what = f"input for tool {name!r}"
        self._output_what = f"output of tool {name!r}"
        self._interrupt_what = f"interrupt metadata of {name!r}"
        self.definition = ToolDefinition(
            name=name,
            description=description,
            input_schema=self.input.json_schema,
            output_schema=self.output.json_schema,
            metadata={"interrupt": True} if fn is None else None,
        )

    @property
    def is_interrupt(self) -> bool:
        return self.fn is None

    @property
    def restartable(self) -> bool:
        return self.fn is not None

    def __repr__(self) -> str:
        kind = "Interrupt" if self.is_interrupt else "Tool"
        return f"<{kind} {self.name}>"

    # -- answering a pause ------------------------------------------------------------------

    def respond(self, interrupt: ToolRequestPart, output: Any, *, metadata: Any = None) -> ToolResponsePart:
        """An answer to ``interrupt``, checked strictly against this tool's output schema."""
        request = self._own(interrupt)
        value = self.check_output(output, request.ref)
        marker = to_json_data(metadata, "respond metadata") if metadata is not None else True
        return ToolResponsePart(
            ToolResponse(name=self.name, ref=request.ref, output=value),
            metadata={Marker.INTERRUPT_RESPONSE: marker},
        )

    def restart(
        self, interrupt: ToolRequestPart, resumed: Any = None, *, replace_input: Any = None
    ) -> ToolRequestPart:
        """A request to run this tool again, with ``ctx.resumed`` set to ``resumed``.

        Shaped as Genkit's ``restartTool`` shapes it: the interrupt's metadata plus ``resumed``,
        and ``replacedInput`` (the input the model sent) when ``replace_input`` is given.
        """
        request = self._own(interrupt)
        if not self.restartable:
            raise ResumeError(
                "not_restartable",
                f"{self.name!r} is an interrupt with no function; answer it with respond()",
                ref=request.ref,
            )
        metadata: dict[str, Any] = dict(interrupt.metadata or {})
        metadata[Marker.RESUMED] = to_json_data(resumed, "restart metadata") if resumed is not None else True
        metadata.pop(Marker.REPLACED_INPUT, None)
        new_input = request.input
        if replace_input is not None:
            new_input = self.check_input(replace_input, request.ref)
            metadata[Marker.REPLACED_INPUT] = request.input
        return ToolRequestPart(
            ToolRequest(name=self.name, ref=request.ref, input=new_input), metadata=metadata
        )

    def check_output(self, output: Any, ref: str | None) -> Any:
        """An answer's output as JSON data, checked strictly (a JSON value of the wrong type is
        rejected, not coerced), or ResumeError(invalid_output) naming the field."""
        try:
            return self.output.check(output, f"output for {self.name!r}")
        except SchemaError as exc:
            raise ResumeError("invalid_output", str(exc), ref=ref, field=exc.field) from exc

    def check_input(self, value: Any, ref: str | None) -> Any:
        """A replacement input as JSON data, checked strictly, or ResumeError(invalid_input)."""
        try:
            return self.input.check(value, f"input for {self.name!r}")
        except SchemaError as exc:
            raise ResumeError("invalid_input", str(exc), ref=ref, field=exc.field) from exc

    def _own(self, interrupt: ToolRequestPart) -> ToolRequest:
        if not isinstance(interrupt, ToolRequestPart):
            raise UsageError(f"expected an interrupt (ToolRequestPart), got {type(interrupt)!r}")
        request = interrupt.tool_request
        if request.name != self.name:
            raise UsageError(f"{self.name}.respond/restart given an interrupt of {request.name!r}")
        return request

    # -- running ----------------------------------------------------------------------------

    async def run(
        self,
        request: ToolRequest,
        context: Mapping[str, Any],
        *,
        resumed: Any = None,
        original_input: Any = None,
        use: Sequence[Middleware] = (),
    ) -> Outcome:
        # Checked before pausing too: an approver must never be shown input the schema forbids.
        value = self.input.validate(request.input, self._input_what)
        if self.fn is None:
            return Paused(True)
        ctx = ToolContext(self.name, request.ref, context, resumed, original_input)
        try:
            if use:
                result = await tool_chain(self, self.fn, use)(value, ctx)
            else:
                result = await self.fn(value, ctx)
        except ToolInterrupt as signal:
            metadata = to_json_data(signal.metadata, self._interrupt_what)
            # Genkit: ``interrupt: metadata || true``, so empty metadata marks the request too.
            return Paused(metadata if metadata else True)
        except IntermissionError:
            raise
        except Exception as exc:
            raise ToolError(self.name, request.ref) from exc
        output = self.output
        return Done(output.dump(output.validate(result, self._output_what)))
