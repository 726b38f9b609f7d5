"""A webhook receiver as an approval system would write one: a Starlette app on uvicorn, on a
real port, that verifies every request with the `standardwebhooks` library, processes each
webhook id once, and can be taken down and brought back on the same port."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SECRET = "whsec_" + base64.b64encode(b"a receiver's 32-byte test secret").decode()


class Receiver:
    def __init__(
        self, secret: str = SECRET, *, on_webhook: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self._webhook = Webhook(secret)
        self._on_webhook = on_webhook
        self.processed: dict[str, dict[str, Any]] = {}  # webhook id -> payload, the first time
        self.duplicates = 0
        self.rejected = 0
        self.status = 204  # what to answer a verified webhook with
        self.headers: dict[str, str] = {}
        self.app = Starlette(routes=[Route("/hook", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        try:
            payload = self._webhook.verify(raw, dict(request.headers))
        except WebhookVerificationError:
            self.rejected += 1
            return Response(status_code=401)
        if self.status >= 300:
            return Response(status_code=self.status, headers=self.headers)
        msg_id = request.headers["webhook-id"]
        if msg_id in self.processed:
            self.duplicates += 1
        else:
            self.processed[msg_id] = payload
            if self._on_webhook is not None:
                self._on_webhook(payload)
        return Response(status_code=204)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:  # pytest keeps its own signal handling
        yield


class Served:
    """The receiver's server: ``down()`` closes the port (connections refused), ``up()`` binds
    the same port again."""

    def __init__(self, app: Starlette) -> None:
        self._app = app
        self.port = 0
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def up(self) -> None:
        config = uvicorn.Config(
            self._app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve())
        async with asyncio.timeout(30):
            while not self._server.started:
                if self._task.done():
                    self._task.result()
                await asyncio.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def down(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        async with asyncio.timeout(30):
            await self._task
        self._server = None


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[Served]:
    served = Served(app)
    await served.up()
    try:
        yield served
    finally:
        await served.down()
