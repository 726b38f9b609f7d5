"""The model seam: one request goes in, one response comes out.

Provider adapters translate at this edge, so no SDK type travels past it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, Protocol, TypeAlias

import msgspec
from intermission_schemas import Message, Part, ToolDefinition

FinishReason: TypeAlias = Literal["stop", "length", "blocked", "interrupted", "other", "unknown"]


class ModelRequest(msgspec.Struct, frozen=True, kw_only=True):
    messages: list[Message]
    tools: list[ToolDefinition] = []
    config: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None


class Usage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, rename="camel"):
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None


class ModelResponse(msgspec.Struct, frozen=True, kw_only=True):
    message: Message
    finish_reason: FinishReason = "stop"
    usage: Usage | None = None


class ModelChunk(msgspec.Struct, frozen=True, kw_only=True):
    """A piece of a streamed reply; the response still arrives whole at the end. ``role`` is
    "model" for what the model streams, "tool" for a tool message once its tools answered (a
    turn's normal tools, a resume's answers), as Genkit JS streams them."""

    content: list[Part]
    role: Literal["model", "tool"] = "model"

    @property
    def text(self) -> str:
        return "".join(getattr(p, "text", "") for p in self.content)


ChunkCallback: TypeAlias = Callable[[ModelChunk], Awaitable[None]]


class Model(Protocol):
    """Anything that turns a request into a response. Stream through ``on_chunk`` if you can."""

    async def generate(
        self, request: ModelRequest, on_chunk: ChunkCallback | None = None
    ) -> ModelResponse: ...
