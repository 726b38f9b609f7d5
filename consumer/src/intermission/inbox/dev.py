"""`intermission dev`: the worker, the inbox and the HTTP API in one process, nothing to install.

The log is a `MemoryLog` (Kafka's in-process stand-in) and the store a `LocalSnapshotStore`
under ``directory`` (``./.intermission/`` by default). The log lives in memory: stopping the
process forgets the topics (stored snapshots and results stay on disk), so a restarted dev
server starts with an empty inbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from pathlib import Path

import pydantic

from .._app import Intermission
from ..service.adapters.local import LocalSnapshotStore, MemoryLog
from ..service.wiring.compose import build_worker, load_app
from ..service.wiring.settings import Settings
from ..stored import Sealer
from .app import build_app
from .authn import authentication
from .context import Inbox
from .history import store_history
from .serve import serve_app
from .view import PendingView
from .web import WebPolicy

__all__ = ["serve_dev"]


def _token_secret(directory: Path) -> str:
    """A secret kept in the dev directory, so tokens printed earlier stay valid across restarts."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "resume-token-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


async def serve_dev(
    settings: Settings,
    *,
    directory: Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    ai: Intermission | None = None,
    on_ready: Callable[[str], None] = print,
) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM); ``on_ready`` gets the inbox's URL."""
    if settings.resume_token_secret is None:
        secret = pydantic.SecretStr(await asyncio.to_thread(_token_secret, directory))
        settings = settings.model_copy(update={"resume_token_secret": secret})
    # A local directory's writes cost nothing: `runs list` works in dev as it comes.
    settings = settings.model_copy(update={"run_index": True})
    authenticator, login = authentication(settings, default="dev")
    app_ai = ai or load_app(settings.app)
    topics = settings.topics
    log = MemoryLog()
    store = LocalSnapshotStore(directory / "store")
    worker = build_worker(settings, store=store, publisher=log, ai=app_ai)
    subscription = log.subscribe([topics.requests, topics.resumes], settings.group_id)
    inbox = Inbox(
        view=PendingView(log, topics),
        transport=log,
        topics=topics,
        tools=app_ai.tool_names,
        tokens=settings.resume_tokens(),
        authenticator=authenticator,
        login=login,
        signing_key=settings.answer_signing_key(),
        reply_topics=settings.reply_topic_patterns,
        history=store_history(store, Sealer(settings.seal_secret())),
    )
    serving = asyncio.create_task(worker.run(subscription), name="intermission-dev-worker")
    try:
        web = WebPolicy.from_settings(settings, host=host)
        await serve_app(build_app(inbox, web=web), host=host, port=port, on_ready=on_ready, web=web)
    finally:
        await subscription.close()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            async with asyncio.timeout(10):
                await serving
