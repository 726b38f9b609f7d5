"""An inbox served by uvicorn on a free port over a ServiceHarness, and a second HTTP server (another
port, another origin) that serves an attacker's pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from intermission.inbox.app import build_app
from intermission.inbox.context import Inbox
from intermission.inbox.serve import serve_app
from intermission.inbox.view import PendingView
from intermission.testing import ServiceHarness
from starlette.applications import Starlette


def harness_inbox(service: ServiceHarness) -> Inbox:
    topics = service.settings.topics
    return Inbox(
        view=PendingView(service.log, topics),
        transport=service.log,
        topics=topics,
        tools=service.ai.tool_names,
        tokens=service.settings.resume_tokens(),
    )


@contextlib.asynccontextmanager
async def served(
    app: Starlette | None = None, *, service: ServiceHarness | None = None, **serve: Any
) -> AsyncIterator[str]:
    """The inbox's URL (http://127.0.0.1:PORT) while it is served."""
    if app is None:
        assert service is not None
        app = build_app(harness_inbox(service))
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(
        serve_app(app, host="127.0.0.1", port=0, on_ready=ready.set_result, stop=stop, **serve)
    )
    try:
        yield (await asyncio.wait_for(ready, 30)).rstrip("/")
    finally:
        stop.set()
        await asyncio.wait_for(serving, 15)


@contextlib.asynccontextmanager
async def page_server(pages: Callable[[str], str | None]) -> AsyncIterator[int]:
    """A bare HTTP server on 127.0.0.1 (any host name) answering GET path with ``pages(path)``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            html = pages(path)
            status = "200 OK" if html is not None else "404 Not Found"
            body = (html or "").encode()
            writer.write(
                f"HTTP/1.1 {status}\r\ncontent-type: text/html\r\ncontent-length: {len(body)}\r\n"
                "connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
