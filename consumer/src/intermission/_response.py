"""What a generation returns: the history, why it stopped, and what it waits for."""

from __future__ import annotations

from typing import Any

import msgspec
from intermission_schemas import Message, PausedGeneration, ToolRequestPart

from ._model import FinishReason, Usage
from ._schema import Schema
from .errors import SchemaError


class Resume(msgspec.Struct, frozen=True, kw_only=True):
    """Answers to a pause: ``respond`` parts from tool.respond(), ``restart`` parts from restart().

    Each takes one part or a list, as Genkit's ``resume`` does. ``metadata`` is recorded on the
    tool message the resume adds, as ``metadata.resumed`` (``True`` when not given), exactly as
    Genkit records ``resume.metadata``.
    """

    respond: list[Any] | Any = []  # after construction, always a list
    restart: list[Any] | Any = []
    metadata: Any = None

    def __post_init__(self) -> None:
        if self.respond.__class__ is list and self.restart.__class__ is list:
            return
        for name in ("respond", "restart"):
            value = getattr(self, name)
            if not isinstance(value, list):
                value = list(value) if isinstance(value, tuple) else [value]
                msgspec.structs.force_setattr(self, name, value)


class GenerateResponse:
    """The result of ``generate``. When ``finish_reason == "interrupted"``, ``interrupts`` is
    non-empty and ``messages`` is the history to resume from."""

    __slots__ = ("_output_schema", "finish_reason", "interrupts", "messages", "usage")

    # Not keyword-only: the engine builds one per generation, and in Python 3.11 a call of a
    # class with keywords costs more than twice one with positions.
    def __init__(
        self,
        messages: list[Message],
        finish_reason: FinishReason,
        interrupts: list[ToolRequestPart],
        usage: Usage | None = None,
        output_schema: Schema | None = None,
    ) -> None:
        self.messages = messages
        self.finish_reason = finish_reason
        self.interrupts = interrupts
        self.usage = usage
        self._output_schema = output_schema

    @property
    def message(self) -> Message | None:
        """The last model message."""
        for message in reversed(self.messages):
            if message.role == "model":
                return message
        return None

    @property
    def text(self) -> str:
        for message in reversed(self.messages):  # self.message, without a second property call
            if message.role == "model":
                return message.text
        return ""

    @property
    def output(self) -> Any:
        """The structured output: the text parsed as JSON and checked against the output schema."""
        if self._output_schema is None:
            raise SchemaError("output", "", "cannot be read: generate() had no output_schema")
        try:
            data = msgspec.json.decode(self.text)
        except msgspec.DecodeError as exc:
            raise SchemaError("output", "", f"is not JSON: {exc}") from exc
        return self._output_schema.validate(data, "model output")

    def to_paused(self) -> PausedGeneration:
        """The pause as a storable document (see ``intermission_schemas.encode``)."""
        return PausedGeneration(messages=self.messages, interrupts=self.interrupts)

    def __repr__(self) -> str:
        return (
            f"<GenerateResponse {self.finish_reason} messages={len(self.messages)} "
            f"interrupts={len(self.interrupts)}>"
        )


__all__ = ["GenerateResponse", "Resume"]
