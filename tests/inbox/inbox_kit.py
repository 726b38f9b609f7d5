"""An inbox on a ServiceHarness's log, and an HTTP client that calls it in-process."""

from __future__ import annotations

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
        web = web or WebPolicy(allowed_hosts=("inbox",))  # the client's base URL below
        transport = httpx.ASGITransport(app=build_app(inbox, own_view=False, web=web))
        async with httpx.AsyncClient(transport=transport, base_url="http://inbox") as client:
            client.inbox = inbox  # type: ignore[attr-defined]
            yield client
    finally:
        await inbox.view.stop()
