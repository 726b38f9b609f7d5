"""One seam around a generation's model and tool calls: Genkit's ``generate({use: [...]})``.

A `Middleware` passed to ``generate(use=[...])`` sees every model call and every call of a tool
function in that generation, and decides whether and how the next one is made: read a reply back
instead of calling the model (the service's journal), time a call (its metrics), answer a tool
from a recording (a replay). The first in ``use`` is the outermost. Interrupts defined without a
function never run, so no hook sees them; a tool that pauses (``ctx.interrupt``) raises through
the hooks around it.

    class Logged(Middleware):
        async def tool(self, tool, value, ctx, call_next):
            print("calling", tool.name, ctx.ref)
            return await call_next(value, ctx)

    await ai.generate(prompt="...", tools=[transfer], use=[Logged()])
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from ._model import ChunkCallback, Model, ModelRequest, ModelResponse

if TYPE_CHECKING:
    from ._tools import Tool, ToolContext

__all__ = ["Middleware", "ModelNext", "ToolNext", "model_chain", "tool_chain"]

ModelNext: TypeAlias = Callable[[ModelRequest], Awaitable[ModelResponse]]
ToolNext: TypeAlias = Callable[[Any, "ToolContext"], Awaitable[Any]]


class Middleware:
    """Hooks that pass every call on unchanged; override the ones you need."""

    __slots__ = ()

    async def model(self, request: ModelRequest, call_next: ModelNext) -> ModelResponse:
        """Around one model call. ``call_next(request)`` makes it (through the hooks inside)."""
        return await call_next(request)

    async def tool(self, tool: Tool, value: Any, ctx: ToolContext, call_next: ToolNext) -> Any:
        """Around one call of ``tool``'s function with its validated input ``value``; returns its
        output. ``call_next(value, ctx)`` makes the call (through the hooks inside)."""
        return await call_next(value, ctx)


def model_chain(model: Model, on_chunk: ChunkCallback | None, use: Sequence[Middleware]) -> ModelNext:
    """``model``'s calls through ``use``, the first outermost."""

    async def call(request: ModelRequest) -> ModelResponse:
        return await model.generate(request, on_chunk)

    for middleware in reversed(use):
        call = functools.partial(_model_hook, middleware, call)
    return call


def tool_chain(tool: Tool, fn: ToolNext, use: Sequence[Middleware]) -> ToolNext:
    """``fn`` (``tool``'s function) through ``use``, the first outermost."""
    call = fn
    for middleware in reversed(use):
        call = functools.partial(_tool_hook, middleware, tool, call)
    return call


async def _model_hook(middleware: Middleware, call_next: ModelNext, request: ModelRequest) -> ModelResponse:
    return await middleware.model(request, call_next)


async def _tool_hook(
    middleware: Middleware, tool: Tool, call_next: ToolNext, value: Any, ctx: ToolContext
) -> Any:
    return await middleware.tool(tool, value, ctx, call_next)
