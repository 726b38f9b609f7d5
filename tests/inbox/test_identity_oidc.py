"""Bearer JWTs verified against a real OIDC provider's JWKS (node-oidc-provider, tests/oidc/).

A token the provider issues is accepted. Tokens signed with the provider's own key but with one
claim wrong (expired, another audience, another issuer) are refused, as are the classic forgeries:
``alg: none``, HS256 keyed with the provider's public key, and a key the provider never had. An
issuer that does not answer is a 503, never a 401.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from inbox_kit import peer_client
from intermission.inbox.app import build_app
from intermission.inbox.context import Inbox
from intermission.inbox.identity import Identity, Refusal
from intermission.inbox.login import CookieSealer, OidcLogin
from intermission.inbox.oidc import BearerToken, Issuer, JwtVerifier
from intermission.inbox.serve import serve_app
from intermission.inbox.view import PendingView
from intermission.inbox.web import WebPolicy
from intermission.service.adapters.local import MemoryLog
from intermission_schemas import Topics
from oidc_kit import AUDIENCE, CLIENT_ID, CLIENT_SECRET, Provider, free_port, oidc_provider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


@pytest.fixture(scope="module")
async def provider() -> AsyncIterator[Provider]:
    async with oidc_provider(["http://127.0.0.1:1/callback"]) as running:
        yield running


IN_PROCESS = WebPolicy(allowed_hosts=("inbox",))  # peer_client's base URL


def _verifier(provider: Provider) -> JwtVerifier:
    return JwtVerifier(Issuer(provider.issuer), AUDIENCE)


def _claims(provider: Provider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": AUDIENCE, "sub": "mallory", "iat": now, "exp": now + 300}
    return {k: v for k, v in {**claims, **changes}.items() if v is not None}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(provider: Provider, header: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(provider)).encode())}"


def _alg_none(provider: Provider) -> str:
    return _unsigned(provider, {"alg": "none", "kid": provider.kid}) + "."


def _hs256_with_public_key(provider: Provider) -> str:
    """The key confusion attack: HMAC keyed with the issuer's public key, which anyone has."""
    public = provider.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = _unsigned(provider, {"alg": "HS256", "typ": "JWT", "kid": provider.kid})
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _unknown_kid(provider: Provider) -> str:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return provider.sign(_claims(provider), key=other, kid="test-key-2")


def _own_kid_other_key(provider: Provider) -> str:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return provider.sign(_claims(provider), key=other)


def _es256_under_the_rsa_kid(provider: Provider) -> str:
    import jwt

    other = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(_claims(provider), other, algorithm="ES256", headers={"kid": provider.kid})


REFUSED: dict[str, tuple[Callable[[Provider], str], str]] = {
    "expired": (lambda p: p.sign(_claims(p, exp=int(time.time()) - 3600)), "expired"),
    "wrong audience": (lambda p: p.sign(_claims(p, aud="https://other.test")), "Audience"),
    "wrong issuer": (lambda p: p.sign(_claims(p, iss="http://127.0.0.1:1")), "issuer"),
    "no expiry": (lambda p: p.sign(_claims(p, exp=None)), "exp"),
    "alg none": (_alg_none, "'none' is not accepted"),
    "HS256 with the public key": (_hs256_with_public_key, "'HS256' is not accepted"),
    "unknown kid": (_unknown_kid, "no key 'test-key-2'"),
    "the provider's kid, another key": (_own_kid_other_key, "Signature verification failed"),
    "ES256 under an RSA key's kid": (_es256_under_the_rsa_kid, "is not a key for ES256"),
    "not a JWT": (lambda p: "not-a-jwt", "not a JWT"),
}


async def test_a_token_from_the_provider_is_accepted(provider: Provider) -> None:
    token = await provider.access_token()
    who = await _verifier(provider).identity(token, "bearer")
    # Client-credentials tokens have no email: the identity falls back to sub.
    assert who == Identity(CLIENT_ID, (), "bearer")


async def test_a_token_signed_with_the_providers_key_is_accepted(provider: Provider) -> None:
    """The control for the refusals below: each of them changes one thing from this."""
    token = provider.sign(_claims(provider, email="mallory@example.test", groups=["ops", "approvers"]))
    who = await _verifier(provider).identity(token, "bearer")
    assert who == Identity("mallory@example.test", ("ops", "approvers"), "bearer")


async def test_an_unverified_email_names_nobody_so_the_subject_answers(provider: Provider) -> None:
    token = provider.sign(_claims(provider, email="alice@example.test", email_verified=False))
    assert await _verifier(provider).identity(token, "bearer") == Identity("mallory", (), "bearer")


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_forged_and_wrong_tokens_are_refused(provider: Provider, case: str) -> None:
    forge, detail = REFUSED[case]
    verifier = JwtVerifier(Issuer(provider.issuer), AUDIENCE, algorithms=frozenset({"RS256", "ES256"}))
    refused = await verifier.identity(forge(provider), "bearer")
    assert isinstance(refused, Refusal), refused
    assert refused.status == 401
    assert detail in refused.detail


def _app(authenticator: BearerToken) -> Any:
    log = MemoryLog()
    inbox = Inbox(
        view=PendingView(log, Topics()), transport=log, topics=Topics(), authenticator=authenticator
    )
    return build_app(inbox, own_view=False, web=IN_PROCESS)


async def test_the_api_takes_a_bearer_token_and_refuses_a_forged_one(provider: Provider) -> None:
    headers = "Cf-Access-Jwt-Assertion"
    app = _app(BearerToken(_verifier(provider), (headers,)))
    token = await provider.access_token()
    async with peer_client(app, "203.0.113.9") as client:
        assert (
            await client.get("/api/pending", headers={"Authorization": f"Bearer {token}"})
        ).status_code == 200
        assert (await client.get("/api/pending", headers={headers: token})).status_code == 200
        assert (await client.get("/api/pending")).status_code == 401
        forged = await client.get("/api/pending", headers={"Authorization": f"Bearer {_alg_none(provider)}"})
        assert forged.status_code == 401
        assert forged.json()["reason"] == "invalid_token"
        basic = await client.get("/api/pending", headers={"Authorization": "Basic YWxpY2U6eA=="})
        assert basic.status_code == 401


async def test_an_issuer_that_does_not_answer_is_503_not_401(provider: Provider) -> None:
    app = _app(BearerToken(JwtVerifier(Issuer(f"http://127.0.0.1:{free_port()}"), AUDIENCE)))
    async with peer_client(app, "127.0.0.1") as client:
        reply = await client.get(
            "/api/pending", headers={"Authorization": f"Bearer {provider.sign(_claims(provider))}"}
        )
    assert reply.status_code == 503
    assert reply.json()["reason"] == "identity_provider_unavailable"


async def test_a_new_kid_fetches_the_keys_again_but_not_more_often_than_allowed(provider: Provider) -> None:
    """The issuer rotates: a token under a new kid makes the inbox fetch the JWKS again, once
    the last fetch is ``refresh_after`` old; made-up kids do not make it fetch on every call."""
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    published = [provider.jwk()]
    fetches: list[float] = []

    async def jwks(_: Request) -> JSONResponse:
        fetches.append(now[0])
        return JSONResponse({"keys": published})

    now = [0.0]
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    app = Starlette(routes=[Route("/jwks", jwks)])
    serving = asyncio.create_task(
        serve_app(app, host="127.0.0.1", port=0, on_ready=ready.set_result, stop=stop)
    )
    try:
        url = await asyncio.wait_for(ready, 30)
        issuer = Issuer(provider.issuer, jwks_url=f"{url}jwks", refresh_after=30, clock=lambda: now[0])
        verifier = JwtVerifier(issuer, AUDIENCE)
        assert isinstance(await verifier.identity(provider.sign(_claims(provider)), "bearer"), Identity)
        rotated = provider.sign(_claims(provider), key=new_key, kid="test-key-2")
        published.append(provider.jwk(new_key, "test-key-2"))
        assert isinstance(await verifier.identity(rotated, "bearer"), Refusal)  # fetched just now
        now[0] = 31.0
        assert isinstance(await verifier.identity(rotated, "bearer"), Identity)
        for _ in range(3):
            assert isinstance(await verifier.identity(_unknown_kid(provider), "bearer"), Refusal)
        assert fetches == [0.0, 31.0]
    finally:
        stop.set()
        await asyncio.wait_for(serving, 30)


# -- the login's own checks ----------------------------------------------------------------------


def _login_app(provider: Provider, sealer: CookieSealer) -> Any:
    login = OidcLogin(JwtVerifier(Issuer(provider.issuer), CLIENT_ID), CLIENT_ID, CLIENT_SECRET, sealer)
    log = MemoryLog()
    inbox = Inbox(
        view=PendingView(log, Topics()), transport=log, topics=Topics(), authenticator=login, login=login
    )
    return build_app(inbox, own_view=False, web=IN_PROCESS)


async def test_login_sends_people_to_the_issuer_with_pkce_and_keeps_them_on_this_site(
    provider: Provider,
) -> None:
    app = _login_app(provider, CookieSealer(b"s" * 32))
    async with peer_client(app, "127.0.0.1") as client:
        reply = await client.get("/login", params={"next": "//evil.example/steal"})
        assert reply.status_code == 303
        target = urlsplit(reply.headers["location"])
        assert f"{target.scheme}://{target.netloc}" == provider.issuer
        query = parse_qs(target.query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == ["http://inbox/callback"]
        assert {"state", "nonce", "code_challenge"} <= set(query)
        cookie = reply.headers["set-cookie"].lower()
        for attribute in ("httponly", "samesite=lax", "path=/callback"):
            assert attribute in cookie
        sealed = reply.cookies["intermission_login"]
        assert CookieSealer(b"s" * 32).open("login", sealed)["next"] == "/"  # type: ignore[index]


async def test_a_callback_this_inbox_did_not_start_is_refused(provider: Provider) -> None:
    sealer = CookieSealer(b"s" * 32)
    async with peer_client(_login_app(provider, sealer), "127.0.0.1") as client:
        assert (await client.get("/callback", params={"code": "c", "state": "s"})).status_code == 400
        started = sealer.seal("login", {"state": "right", "nonce": "n", "verifier": "v", "next": "/"}, 60)
        client.cookies.set("intermission_login", started, path="/callback")
        for wrong in ("wrong", "\u00e9t\u00e9"):
            reply = await client.get("/callback", params={"code": "c", "state": wrong})
            assert reply.status_code == 400
        assert "intermission_session" not in reply.cookies
        # The right state but a code the issuer never gave out: the issuer refuses it.
        reply = await client.get("/callback", params={"code": "made-up", "state": "right"})
        assert reply.status_code == 401
        assert "intermission_session" not in reply.cookies


@pytest.mark.parametrize(
    "cookie",
    [
        CookieSealer(b"other secret").seal("session", {"name": "alice", "groups": []}, 60),
        CookieSealer(b"s" * 32).seal("login", {"name": "alice", "groups": []}, 60),
        CookieSealer(b"s" * 32, clock=lambda: time.time() - 120).seal("session", {"name": "alice"}, 60),
        "eyJuYW1lIjoiYWxpY2UiLCJleHAiOjk5OTk5OTk5OTl9.",
        "eyJuYW1lIjoiYWxpY2UiLCJleHAiOjk5OTk5OTk5OTl9.\u00e9t\u00e9",
    ],
    ids=["another secret", "a login cookie", "expired", "unsigned", "not ascii"],
)
async def test_a_session_cookie_not_sealed_here_now_is_refused(provider: Provider, cookie: str) -> None:
    def session(value: str) -> dict[str, bytes]:  # raw bytes: a browser's jar would refuse some
        return {"cookie": f"intermission_session={value}".encode()}

    async with peer_client(_login_app(provider, CookieSealer(b"s" * 32)), "127.0.0.1") as client:
        reply = await client.get("/api/pending", headers=session(cookie))
        assert reply.status_code == 401
        assert (await client.get("/", headers=session(cookie))).status_code == 303
        good = CookieSealer(b"s" * 32).seal("session", {"name": "alice", "groups": []}, 60)
        assert (await client.get("/api/pending", headers=session(good))).status_code == 200
