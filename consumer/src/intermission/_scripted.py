"""A model that answers from a script: for tests, examples and benchmarks. Needs no key."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

from intermission_schemas import Message, Part, TextPart, ToolRequest, ToolRequestPart

from ._model import ChunkCallback, ModelChunk, ModelRequest, ModelResponse
from .errors import UsageError

Reply: TypeAlias = ModelResponse | Message | str
ReplyFunction: TypeAlias = Callable[[ModelRequest], Reply | Awaitable[Reply]]


def tool_call(name: str, input: Any = None, *, ref: str | None = None) -> ToolRequestPart:
    """A tool request part, as a model would emit it."""
    return ToolRequestPart(ToolRequest(name=name, ref=ref, input=input))


def reply(*parts: str | Part) -> Message:
    """A model message from text and parts: ``reply("Let me ask", tool_call("askQuestion", {...}))``."""
    return Message(role="model", content=[TextPart(p) if isinstance(p, str) else p for p in parts])


class ScriptedModel:
    """Replies in order from a list, or from a function of the request.

    The latest requests (``keep``, 64 by default) are kept in ``requests`` so tests can check
    what the model was sent; older ones are dropped, so a long-running worker's memory stays flat.
    """

    def __init__(self, script: Sequence[Reply] | ReplyFunction, *, keep: int = 64) -> None:
        self._function = script if callable(script) else None
        self._replies = list(script) if not callable(script) else []
        self._next = 0
        self._keep = keep
        self.requests: list[ModelRequest] = []

    async def generate(self, request: ModelRequest, on_chunk: ChunkCallback | None = None) -> ModelResponse:
        self.requests.append(request)
        if len(self.requests) > self._keep:
            del self.requests[0]
        if self._function is not None:
            produced = self._function(request)
            # A reply is checked first: inspect.isawaitable is the slower question.
            if isinstance(produced, (Message, ModelResponse, str)):
                answer: Reply = produced
            else:
                answer = await produced if inspect.isawaitable(produced) else produced
        else:
            if self._next >= len(self._replies):
                raise UsageError(f"the scripted model ran out after {len(self._replies)} replies")
            answer = self._replies[self._next]
            self._next += 1
        # A Message, the usual reply, is wrapped here without a call of _as_response.
        response = (
            ModelResponse(message=answer, finish_reason="stop")
            if answer.__class__ is Message
            else _as_response(answer)
        )
        if on_chunk is not None:
            for part in response.message.content:
                await on_chunk(ModelChunk(content=[part]))
        return response


def _as_response(answer: Reply) -> ModelResponse:
    if isinstance(answer, ModelResponse):
        return answer
    if isinstance(answer, str):
        answer = reply(answer)
    return ModelResponse(message=answer, finish_reason="stop")
