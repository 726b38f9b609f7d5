"""Streaming: chunks as the model produces them, then the same response generate() returns."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from typing import Any

from ._model import ModelChunk
from ._response import GenerateResponse

_DONE = object()


class GenerateStream:
    """``async for chunk in stream`` yields model chunks; ``await stream.response`` gives the
    final response (interrupts included). Awaiting the stream itself also gives the response."""

    def __init__(
        self,
        start: Callable[[Callable[[ModelChunk], Awaitable[None]]], Awaitable[GenerateResponse]],
    ) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task = asyncio.ensure_future(start(self._push))
        self._task.add_done_callback(lambda _: self._queue.put_nowait(_DONE))

    async def _push(self, chunk: ModelChunk) -> None:
        self._queue.put_nowait(chunk)

    async def __aiter__(self) -> AsyncIterator[ModelChunk]:
        while (item := await self._queue.get()) is not _DONE:
            yield item
        # Surface a failure where the caller is looking: at the end of iteration.
        self._task.result()

    @property
    def response(self) -> asyncio.Future[GenerateResponse]:
        return self._task

    def __await__(self) -> Generator[Any, None, GenerateResponse]:
        return self._task.__await__()
