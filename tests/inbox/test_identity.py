"""Who calls the inbox (issue 17, items 3 and 4).

- The identity header is believed only from a trusted proxy, judged by the TCP peer; from
  anyone else it is a 401, nothing is published and no answer is ever alice's.
- With identity configured, every route but the public ones refuses anonymous callers; the
  test walks the app's own route table, so a route added later cannot forget.
- Resume tokens are shown only to callers who could answer with them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from dev_kit import dev_server
from inbox_kit import TOKEN_SECRET, TRANSFER, inbox_client, paused, peer_client
from intermission.errors import SettingsError
from intermission.inbox.app import build_app
from intermission.inbox.authn import authentication
from intermission.inbox.context import Inbox
from intermission.inbox.identity import PUBLIC, FirstOf, TrustedProxyHeader, parse_networks
from intermission.inbox.login import CookieSealer, OidcLogin
from intermission.inbox.oidc import BearerToken, Issuer, JwtVerifier
from intermission.inbox.view import PendingView
from intermission.inbox.web import WebPolicy
from intermission.service.adapters.local import MemoryLog
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_schemas import Topics
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Route

HEADER = "X-Forwarded-User"
SETTINGS = Settings(resume_token_secret=SecretStr(TOKEN_SECRET))


# -- the spoofed header, against `intermission dev` over real TCP ------------------------------


async def test_a_spoofed_identity_header_is_refused_and_never_answers(tmp_path: Path) -> None:
    """The proxy is 127.0.0.2; a client connecting from 127.0.0.1 says it is alice, also with
    every forwarding header naming the proxy. The inbox signs its answers, so an answer it let
    through would pass the worker's signature check: it must let none through."""
    async with (
        dev_server(
            tmp_path,
            INTERMISSION_INBOX_IDENTITY_HEADER=HEADER,
            INTERMISSION_INBOX_TRUSTED_PROXIES="127.0.0.2",
            INTERMISSION_SIGNING_KEY="inbox=inbox-signing-secret",
            INTERMISSION_ANSWER_KEYS="inbox=inbox-signing-secret",
            INTERMISSION_REQUIRE_SIGNED_ANSWERS="true",
        ) as url,
        httpx.AsyncClient(
            base_url=url, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        ) as proxy,
        httpx.AsyncClient(base_url=url) as direct,
    ):
        proxy.headers[HEADER] = "bob"
        run = await paused(proxy, "spoof-1", {**TRANSFER, "approvers": ["alice"]})
        ref = run["pending"]["interrupts"][0]["ref"]
        body = {"restart": {ref: {"status": "APPROVED"}}}
        spoofs: list[dict[str, str]] = [
            {HEADER: "alice"},
            {
                HEADER: "alice",
                "X-Forwarded-For": "127.0.0.2",
                "X-Real-IP": "127.0.0.2",
                "Forwarded": "for=127.0.0.2",
            },
        ]
        for headers in spoofs:
            for method, path, json in (
                ("POST", "/api/runs/spoof-1/answers", body),
                ("GET", "/api/pending", None),
                ("GET", "/api/runs/spoof-1", None),
                ("POST", "/api/runs", TRANSFER),
            ):
                reply = await direct.request(method, path, json=json, headers=headers)
                assert reply.status_code == 401, (path, reply.text)
                assert reply.json()["reason"] == "untrusted_identity"
        state = (await proxy.get("/api/runs/spoof-1")).json()
        assert state["status"] == "pending"
        assert state["answers"] == []
        assert [r["runId"] for r in (await proxy.get("/api/pending")).json()["pending"]] == ["spoof-1"]

        # Through the proxy, alice is alice.
        reply = await proxy.post("/api/runs/spoof-1/answers?wait=10", json=body, headers={HEADER: "alice"})
        assert reply.json()["outcome"] == "accepted", reply.text
        state = (await proxy.get("/api/runs/spoof-1")).json()
        assert [a["answeredBy"] for a in state["answers"]] == ["alice"]


# -- every route asks --------------------------------------------------------------------------


IN_PROCESS = WebPolicy(allowed_hosts=("inbox",))  # peer_client's base URL


def _app(*, login: bool) -> Starlette:
    log = MemoryLog()
    proxy = TrustedProxyHeader(HEADER, parse_networks("10.9.9.9"))
    verifier = JwtVerifier(Issuer("https://issuer.invalid"), "inbox")  # never reached
    signin = OidcLogin(verifier, "inbox", None, CookieSealer(b"k" * 32))
    bearer = BearerToken(verifier)
    inbox = Inbox(
        view=PendingView(log, Topics()),
        transport=log,
        topics=Topics(),
        tools=["transferMoney"],
        authenticator=FirstOf((signin, bearer, proxy) if login else (bearer, proxy)),
        login=signin if login else None,
    )
    return build_app(inbox, own_view=False, web=IN_PROCESS)


ROUTES = [
    (route.path, method)
    for route in _app(login=True).routes
    if isinstance(route, Route) and route.path not in PUBLIC
    for method in sorted((route.methods or set()) - {"HEAD"})
]


def test_the_route_table_is_walked() -> None:
    paths = {path for path, _ in ROUTES}
    assert {"/", "/runs/{run_id}/card", "/api/pending", "/api/events", "/api/answer/{token}"} <= paths
    assert {"/api/runs", "/api/runs/{run_id}/answers"} <= paths


@pytest.mark.parametrize("login", [False, True], ids=["api-only", "with-login"])
@pytest.mark.parametrize(("path", "method"), ROUTES, ids=[f"{m} {p}" for p, m in ROUTES])
@pytest.mark.parametrize(
    "headers",
    [{}, {HEADER: "alice"}, {"Authorization": "Bearer x.y.z"}],
    ids=["none", "spoofed", "bad-token"],
)
async def test_every_route_refuses_callers_without_identity(
    path: str, method: str, login: bool, headers: dict[str, str]
) -> None:
    url = re.sub(r"\{[^}]+\}", "x", path)
    async with peer_client(_app(login=login), "127.0.0.1") as client:
        reply = await client.request(method, url, headers=headers, json={} if method == "POST" else None)
    page = method == "GET" and not path.startswith("/api/")
    if page and login:
        assert reply.status_code == 303, reply.text
        assert reply.headers["location"] == f"/login?next={url}"
    else:
        assert reply.status_code == 401, reply.text
        assert reply.json()["reason"] in {"no_identity", "untrusted_identity", "invalid_token"}


@pytest.mark.parametrize("path", sorted(PUBLIC - {"/login", "/callback", "/logout"}))
async def test_public_paths_need_no_identity(path: str) -> None:
    async with peer_client(_app(login=False), "127.0.0.1") as client:
        assert (await client.get(path)).status_code == 200


# -- tokens only for who may answer ------------------------------------------------------------


def _tokens(pending: dict[str, Any] | None) -> list[str | None]:
    assert pending is not None
    return [i.get("token") for i in pending["interrupts"]]


async def test_tokens_are_shown_only_to_those_who_may_answer() -> None:
    proxy = TrustedProxyHeader(HEADER, parse_networks("127.0.0.0/8"))
    async with (
        ServiceHarness(demo.ai, settings=SETTINGS) as service,
        inbox_client(service, authenticator=proxy) as client,
    ):
        bob, alice = {HEADER: "bob"}, {HEADER: "alice"}
        client.headers.update({HEADER: "carol"})  # who asks may not answer: a third person
        await paused(client, "tok-alice", {**TRANSFER, "approvers": ["alice"]})
        await paused(client, "tok-anyone", TRANSFER)
        client.headers.update(bob)

        listed = {p["runId"]: p for p in (await client.get("/api/pending")).json()["pending"]}
        assert _tokens(listed["tok-alice"]) == [None]
        assert all(_tokens(listed["tok-anyone"]))
        assert _tokens((await client.get("/api/runs/tok-alice")).json()["pending"]) == [None]
        assert _tokens((await client.get("/api/runs/tok-alice/pending")).json()) == [None]

        as_alice = (await client.get("/api/runs/tok-alice", headers=alice)).json()
        [token] = _tokens(as_alice["pending"])
        assert token
        for who in (bob, alice):
            assert token not in (await client.get("/", headers=who)).text
            assert token not in (await client.get("/runs/tok-alice/card", headers=who)).text

        # A token that leaked to bob answers as bob, whom the worker refuses. (An API client,
        # not the page: without the page's CSRF cookie.)
        client.cookies.clear()
        reply = await client.post(f"/api/answer/{token}?wait=10", json={"resumed": {"status": "APPROVED"}})
        assert reply.json()["outcome"] == "rejected"
        assert reply.json()["reason"] == "unauthorized"
        state = (await client.get("/api/runs/tok-alice")).json()
        assert [a["answeredBy"] for a in state["answers"]] == ["bob"]


# -- settings are checked at start -------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({"inbox_identity_header": HEADER}, "INTERMISSION_INBOX_TRUSTED_PROXIES"),
        ({"inbox_trusted_proxies": "127.0.0.1"}, "INTERMISSION_INBOX_IDENTITY_HEADER"),
        (
            {"inbox_identity_header": HEADER, "inbox_trusted_proxies": "10.0.0.0/33"},
            "INTERMISSION_INBOX_TRUSTED_PROXIES",
        ),
        (
            {"inbox_identity_header": HEADER, "inbox_trusted_proxies": "proxy.local"},
            "INTERMISSION_INBOX_TRUSTED_PROXIES",
        ),
        (
            {
                "inbox_identity": "alice",
                "inbox_identity_header": HEADER,
                "inbox_trusted_proxies": "127.0.0.1",
            },
            "INTERMISSION_INBOX_IDENTITY",
        ),
        ({"inbox_oidc_client_id": "inbox"}, "INTERMISSION_INBOX_OIDC_ISSUER"),
        ({"inbox_oidc_issuer": "https://id.example.com"}, "INTERMISSION_INBOX_OIDC_AUDIENCE"),
        (
            {"inbox_oidc_issuer": "http://id.example.com", "inbox_oidc_client_id": "c"},
            "INTERMISSION_INBOX_OIDC_ISSUER",
        ),
        (
            {
                "inbox_oidc_issuer": "https://id.example.com",
                "inbox_oidc_client_id": "c",
                "inbox_oidc_algorithms": "RS256,HS256",
            },
            "INTERMISSION_INBOX_OIDC_ALGORITHMS",
        ),
        (
            {
                "inbox_oidc_issuer": "https://id.example.com",
                "inbox_oidc_client_id": "c",
                "inbox_oidc_algorithms": "none",
            },
            "INTERMISSION_INBOX_OIDC_ALGORITHMS",
        ),
        (
            {
                "inbox_oidc_issuer": "https://id.example.com",
                "inbox_oidc_client_id": "c",
                "inbox_public_url": "inbox",
            },
            "INTERMISSION_INBOX_PUBLIC_URL",
        ),
    ],
)
def test_identity_settings_are_checked_at_start(settings: dict[str, Any], variable: str) -> None:
    with pytest.raises(SettingsError) as raised:
        authentication(Settings(**settings), default="dev")
    assert raised.value.variable == variable


def test_with_nothing_configured_everyone_is_the_dev_identity() -> None:
    authenticator, login = authentication(Settings(), default="dev")
    assert login is None
    assert authenticator == authentication(Settings(inbox_identity="dev"), default="x")[0]
