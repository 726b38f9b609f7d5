"""Where /login sends people afterwards (``next``): only a path of this inbox. Browsers drop
tabs and newlines from a URL before they read it (WHATWG URL), so ``/<TAB>/evil.example`` is
``//evil.example`` to them; Chromium follows the signed-in page's refresh there. Each variant
must come back as a path of this inbox or as "/"."""

from __future__ import annotations

from typing import Any

import pytest
from inbox_kit import peer_client
from intermission.inbox.app import build_app
from intermission.inbox.context import Inbox
from intermission.inbox.login import CookieSealer, OidcLogin
from intermission.inbox.oidc import Issuer, JwtVerifier
from intermission.inbox.view import PendingView
from intermission.inbox.web import WebPolicy
from intermission.service.adapters.local import MemoryLog
from intermission_schemas import Topics
from oidc_kit import CLIENT_ID, CLIENT_SECRET, Provider

SEALER = CookieSealer(b"s" * 32)
OFF_SITE = [
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    "\t//evil.example",
    "/ /evil.example",
    "https://evil.example",
    "/\x00/evil.example",
    "/\u3000/evil.example",
    "javascript:alert(1)",
    "evil.example",
]


def _app(provider: Provider) -> Any:
    login = OidcLogin(JwtVerifier(Issuer(provider.issuer), CLIENT_ID), CLIENT_ID, CLIENT_SECRET, SEALER)
    log = MemoryLog()
    inbox = Inbox(
        view=PendingView(log, Topics()), transport=log, topics=Topics(), authenticator=login, login=login
    )
    return build_app(inbox, own_view=False, web=WebPolicy(allowed_hosts=("inbox",)))


async def _next_after_login(provider: Provider, target: str) -> str:
    async with peer_client(_app(provider), "127.0.0.1") as client:
        reply = await client.get("/login", params={"next": target})
        assert reply.status_code == 303
        started = SEALER.open("login", reply.cookies["intermission_login"])
        assert started is not None
        return str(started["next"])


@pytest.mark.parametrize("target", OFF_SITE)
async def test_next_never_leaves_the_inbox(provider: Provider, target: str) -> None:
    assert await _next_after_login(provider, target) == "/"


async def test_next_keeps_a_path_of_the_inbox(provider: Provider) -> None:
    assert await _next_after_login(provider, "/runs/r-1/card?x=1") == "/runs/r-1/card?x=1"
