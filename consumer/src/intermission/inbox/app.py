"""The inbox as one Starlette app: pages for people, the HTTP API and its OpenAPI document.

    app = build_app(Inbox(view=PendingView(transport, topics), transport=transport, topics=topics))

The app starts and stops its view (the reader of the topics) with its lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from intermission_schemas import AnswerProblem
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from .api import ROUTES
from .context import Inbox
from .identity import Identity, RequireIdentity, identity_of, why_not_answer
from .openapi import openapi_document
from .pages import render_card, render_page
from .static import SCRIPT, STYLE
from .view import RunState
from .web import WebPolicy, secure, stream_limits
from .web.csrf import csrf_token

__all__ = ["build_app"]

log = logging.getLogger("intermission.inbox")


async def _messages(inbox: Inbox, state: RunState) -> list[object] | None:
    if inbox.history is None:
        return None
    try:
        return list(await inbox.history(state) or [])
    except Exception:  # history is a courtesy: a store hiccup must not break the form
        log.warning("inbox: no history for run %s", state.run_id, exc_info=True)
        return None


async def _card(inbox: Inbox, state: RunState, viewer: Identity) -> str:
    messages = await _messages(inbox, state)
    request = state.request

    def refusal(tool: str) -> AnswerProblem | None:
        return None if request is None else why_not_answer(viewer, request, tool)

    return render_card(state, messages, datetime.now(UTC), refusal=refusal)  # type: ignore[arg-type]


async def page(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox
    now = datetime.now(UTC)
    # Pending runs first, then the newest.
    runs = sorted(reversed(list(inbox.view.runs.values())), key=lambda s: s.status(now) != "pending")
    viewer = identity_of(request)
    cards = [await _card(inbox, state, viewer) for state in runs[:50]]
    return HTMLResponse(render_page(runs, sorted(inbox.tools), cards, csrf_token(request), me=viewer.name))


async def card(request: Request) -> Response:
    inbox: Inbox = request.app.state.inbox
    state = inbox.view.get(request.path_params["run_id"])
    if state is None:
        return HTMLResponse("no such run", status_code=404)
    return HTMLResponse(await _card(inbox, state, identity_of(request)))


async def script(_: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript")


async def style(_: Request) -> Response:
    return Response(STYLE, media_type="text/css")


async def openapi(_: Request) -> Response:
    return JSONResponse(openapi_document())


def build_app(inbox: Inbox, *, own_view: bool = True, web: WebPolicy | None = None) -> Starlette:
    """The app; with ``own_view`` its lifespan starts the view's reader and stops it. ``web``:
    what its defences allow (by default local host names only, see ``WebPolicy``)."""

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if own_view:
            await inbox.view.start()
        try:
            yield
        finally:
            if own_view:
                await inbox.view.stop()

    routes = [
        Route("/", page),
        Route("/runs/{run_id}/card", card),
        Route("/static/inbox.js", script),
        Route("/static/inbox.css", style),
        Route("/api/openapi.json", openapi),
        *(Route(path, endpoint, methods=methods) for path, endpoint, methods in ROUTES),
        *(inbox.login.routes if inbox.login else ()),
    ]
    login_path = "/login" if inbox.login else None
    # The web defences run first (outermost): a refused write or an oversized body costs no
    # identity check; identity is then required of everything that gets through.
    policy = web or WebPolicy()
    middleware = [
        *secure(policy),
        Middleware(RequireIdentity, authenticator=inbox.authenticator, login_path=login_path),
        stream_limits(policy),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    app.state.inbox = inbox
    app.state.closing = asyncio.Event()  # set when the server is asked to stop
    return app
