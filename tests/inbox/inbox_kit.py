"""An inbox on a ServiceHarness's log, and an HTTP client that calls it in-process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from intermission.inbox.app import build_app
from intermission.inbox.context import Inbox
from intermission.inbox.history import store_history
from intermission.inbox.view import PendingView
from intermission.inbox.web import WebPolicy
from intermission.service.runs.sealing import Sealer
from intermission.testing import ServiceHarness

TOKEN_SECRET = "test-token-secret"
TRANSFER = {
    "messages": [{"role": "user", "content": [{"text": "Transfer $1000"}]}],
    "tools": ["transferMoney"],
}


def peer_client(app: Any, peer: str) -> httpx.AsyncClient:
    """A client of ``app`` in-process whose TCP peer address is ``peer``."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40_000))
    return httpx.AsyncClient(transport=transport, base_url="http://inbox")


@contextlib.asynccontextmanager
async def inbox_client(
    service: ServiceHarness, *, web: WebPolicy | None = None, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    topics = service.settings.topics
    inbox = Inbox(
        view=PendingView(service.log, topics),
        transport=service.log,
        topics=topics,
        tools=service.ai.tool_names,
        tokens=service.settings.resume_tokens(),
        history=store_history(service.store, Sealer(None)),
        **options,
    )
    await inbox.view.start()
    try:
        web = web or WebPolicy(allowed_hosts=("inbox",))  # the client's base URL (peer_client)
        app = build_app(inbox, own_view=False, web=web)
        async with peer_client(app, "127.0.0.1") as client:
            client.inbox = inbox  # type: ignore[attr-defined]
            client.asgi = app  # type: ignore[attr-defined]
            yield client
    finally:
        await inbox.view.stop()


async def paused(
    client: httpx.AsyncClient, run_id: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Start a run through the API and return it once its interrupt shows."""
    reply = await client.post("/api/runs", json={**(body or TRANSFER), "runId": run_id})
    assert reply.status_code == 202, reply.text
    for _ in range(200):
        got = await client.get(f"/api/runs/{run_id}")
        if got.status_code == 200 and got.json()["status"] == "pending":
            return got.json()
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} never paused")
