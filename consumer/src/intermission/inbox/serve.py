"""Serving the inbox: over Kafka and S3 (`intermission inbox`), and the uvicorn loop shared with
`intermission dev`.

Any number of inboxes may run: each folds the topics into its own view from their beginning,
publishes answers on the resumes topic and holds nothing another inbox needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from intermission_producer import KafkaTransport
from starlette.applications import Starlette

from ..service.ports import SnapshotStore
from ..service.wiring.compose import load_app
from ..service.wiring.settings import Settings
from ..stored import Sealer
from .app import build_app
from .authn import authentication
from .context import Inbox
from .history import store_history
from .view import PendingView
from .web import WebPolicy
from .web.protocol import with_header_timeout

__all__ = ["serve_app", "serve_inbox"]


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: it re-raises SIGINT once it has stopped, which
    would end `intermission dev` with a traceback. serve_app handles the signals instead."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _stop(app: Starlette, server: uvicorn.Server) -> None:
    closing = getattr(app.state, "closing", None)
    if isinstance(closing, asyncio.Event):
        closing.set()  # event streams end, so the server need not wait for them
    server.should_exit = True


async def serve_app(
    app: Starlette,
    *,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
    web: WebPolicy | None = None,
) -> None:
    """Serve ``app`` until Ctrl-C/SIGTERM or ``stop``; ``on_ready`` gets the URL once bound.
    ``web`` gives the connection limits and timeouts (the app's own defences are its middleware)."""
    limits = web or WebPolicy()
    # Open event streams never end by themselves: give them 2 s once asked to stop. No proxy
    # headers: the client address must stay the TCP peer, which trusted proxies are matched on.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
        http=with_header_timeout(limits.header_timeout_seconds),
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=limits.keep_alive_seconds,
        proxy_headers=False,
    )
    server = _Server(config)
    loop = asyncio.get_running_loop()
    handled = []
    for number in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(number, _stop, app, server)
            handled.append(number)

    if stop is not None:
        stop_task = asyncio.create_task(stop.wait())
        stop_task.add_done_callback(lambda _: _stop(app, server))

    async def announce() -> None:
        while not server.started:  # uvicorn offers no event to wait on  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        bound = server.servers[0].sockets[0].getsockname()[1]
        on_ready(f"http://{host}:{bound}/")

    announcing = asyncio.create_task(announce())
    try:
        await server.serve()
    finally:
        if stop is not None:
            stop_task.cancel()
        for number in handled:
            loop.remove_signal_handler(number)
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
    authenticator, login = authentication(settings, default="inbox")
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
            authenticator=authenticator,
            login=login,
            signing_key=settings.answer_signing_key(),
            reply_topics=settings.reply_topic_patterns,
            history=store_history(store, Sealer(settings.seal_secret())) if store is not None else None,
        )
        web = WebPolicy.from_settings(settings, host=host)
        app = build_app(inbox, web=web)
        await serve_app(app, host=host, port=port, on_ready=on_ready, stop=stop, web=web)
    finally:
        await transport.stop()
