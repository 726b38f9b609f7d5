"""Serving the inbox: over Kafka and S3 (`intermission inbox`), and the uvicorn loop shared with
`intermission dev`.

Any number of inboxes may run: each folds the topics into its own view from their beginning,
publishes answers on the resumes topic and holds nothing another inbox needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import uvicorn
from intermission_producer import KafkaTransport
from starlette.applications import Starlette

from ..service.ports import SnapshotStore
from ..service.runs.sealing import Sealer
from ..service.wiring.compose import load_app
from ..service.wiring.settings import Settings
from .app import build_app
from .context import Inbox
from .history import store_history
from .view import PendingView

__all__ = ["serve_app", "serve_inbox"]


async def serve_app(
    app: Starlette,
    *,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Serve ``app`` until Ctrl-C/SIGTERM or ``stop``; ``on_ready`` gets the URL once bound."""
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on"))

    async def announce() -> None:
        while not server.started:  # uvicorn offers no event to wait on  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        bound = server.servers[0].sockets[0].getsockname()[1]
        on_ready(f"http://{host}:{bound}/")
        if stop is not None:
            await stop.wait()
            server.should_exit = True

    announcing = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        announcing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await announcing


async def serve_inbox(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    store: SnapshotStore | None = None,
    consumer_options: dict[str, Any] | None = None,
    on_ready: Callable[[str], None] = print,
    stop: asyncio.Event | None = None,
) -> None:
    """The inbox on Kafka (``settings.bootstrap_servers``), with the run history from ``store``
    (by default the S3 bucket of ``settings``, when one is set)."""
    settings.require("bootstrap_servers")
    assert settings.bootstrap_servers is not None
    if store is None and settings.bucket:
        from ..service.wiring.serve import snapshot_store

        store = snapshot_store(settings)
    transport = KafkaTransport(
        settings.bootstrap_servers, security=settings.kafka_security(), consumer_options=consumer_options
    )
    await transport.start()
    try:
        topics = settings.topics
        inbox = Inbox(
            view=PendingView(transport, topics),
            transport=transport,
            topics=topics,
            tools=load_app(settings.app).tool_names,
            tokens=settings.resume_tokens(),
            identity=settings.inbox_identity or "inbox",
            identity_header=settings.inbox_identity_header,
            signing_key=settings.answer_signing_key(),
            history=store_history(store, Sealer(settings.seal_secret())) if store is not None else None,
        )
        await serve_app(build_app(inbox), host=host, port=port, on_ready=on_ready, stop=stop)
    finally:
        await transport.stop()
