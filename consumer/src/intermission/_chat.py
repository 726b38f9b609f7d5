"""Chat: a conversation whose state is data, so it can pause here and resume elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from intermission_schemas import ChatState, Message, Part, TextPart, encode, pending_interrupts

from ._response import GenerateResponse, Resume
from ._stream import GenerateStream
from ._tools import Tool
from .errors import UsageError

if TYPE_CHECKING:
    from ._app import Intermission


class Chat:
    """``await chat.send("...")``; when it pauses, ``await chat.send(resume=Resume(...))``."""

    def __init__(
        self,
        ai: Intermission,
        *,
        system: str | None,
        tools: Sequence[Tool | str],
        messages: list[Message],
        config: dict[str, Any] | None,
    ) -> None:
        self._ai = ai
        self._system = system
        self._tools = [t if isinstance(t, str) else t.name for t in tools]
        self._config = config
        self.messages = messages

    @property
    def interrupts(self) -> list[Any]:
        """The interrupts this chat waits on; empty unless the last send paused."""
        return pending_interrupts(self.messages)

    async def send(
        self,
        prompt: str | Sequence[Part] | None = None,
        *,
        resume: Resume | None = None,
        context: dict[str, Any] | None = None,
    ) -> GenerateResponse:
        response = await self._ai.generate(context=context, **self._options(prompt, resume))
        self.messages = response.messages
        return response

    def send_stream(
        self,
        prompt: str | Sequence[Part] | None = None,
        *,
        resume: Resume | None = None,
        context: dict[str, Any] | None = None,
    ) -> GenerateStream:
        options = self._options(prompt, resume)

        async def start(on_chunk: Any) -> GenerateResponse:
            response = await self._ai.generate(context=context, on_chunk=on_chunk, **options)
            self.messages = response.messages
            return response

        return GenerateStream(start)

    def _options(self, prompt: str | Sequence[Part] | None, resume: Resume | None) -> dict[str, Any]:
        messages = list(self.messages)
        if resume is None:
            if self.interrupts:
                raise UsageError("this chat is paused: send(resume=...) to answer its interrupts")
            if prompt is None:
                raise UsageError("send() needs a prompt or a resume")
            if not messages and self._system:
                messages.append(Message(role="system", content=[TextPart(self._system)]))
            content: list[Part] = [TextPart(prompt)] if isinstance(prompt, str) else list(prompt)
            messages.append(Message(role="user", content=content))
        elif prompt is not None:
            raise UsageError("send() takes a prompt or a resume, not both")
        return {
            "messages": messages,
            "resume": resume,
            "tools": self._tools,
            "config": self._config,
        }

    @property
    def state(self) -> ChatState:
        return ChatState(
            messages=self.messages,
            tools=self._tools,
            interrupts=self.interrupts,
            system=self._system,
            config=self._config,
        )

    def to_bytes(self) -> bytes:
        return encode(self.state)
