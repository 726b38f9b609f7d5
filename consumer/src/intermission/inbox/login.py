"""The OIDC login for people: /login, /callback, /logout, and the session cookie they leave.

Authorization code flow with PKCE (S256), a ``state`` and a ``nonce``, all three kept in a
short-lived signed cookie between /login and /callback. The ID token is verified like any
bearer token (issuer, audience = the client id, expiry, allowed algorithms, the issuer's keys)
and its nonce must be this login's. The session is a signed, HttpOnly, SameSite=Strict cookie
(Secure over https) holding the identity and its expiry; there is no server-side session
state, so any inbox sharing the session secret accepts it.

Design: a SameSite=Strict cookie is not sent on a navigation that a redirect from another site
started, which is how every login comes back. So /callback answers with a page that moves on
by itself (meta refresh): that navigation starts on the inbox's own page and carries the cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..errors import IdentityProviderUnavailableError
from .identity import Identity, Refusal
from .oidc import JwtVerifier

__all__ = ["SESSION_COOKIE", "CookieSealer", "OidcLogin"]

SESSION_COOKIE = "intermission_session"
_LOGIN_COOKIE = "intermission_login"
_LOGIN_SECONDS = 600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _same(given: str, expected: str) -> bool:
    # As bytes: compare_digest raises on str with non-ASCII characters, which callers control.
    return hmac.compare_digest(given.encode(), expected.encode())


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class CookieSealer:
    """HMAC-signed JSON with an expiry, bound to a purpose (a login cookie is no session)."""

    secret: bytes
    clock: Callable[[], float] = time.time

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self.secret, f"{purpose}.{body}".encode(), hashlib.sha256).digest())

    def seal(self, purpose: str, payload: dict[str, Any], seconds: float) -> str:
        body = _b64(json.dumps({**payload, "exp": self.clock() + seconds}).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def open(self, purpose: str, sealed: str | None) -> dict[str, Any] | None:
        body, _, mac = (sealed or "").partition(".")
        if not body or not _same(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("exp"), float | int):
            return None
        return payload if payload["exp"] > self.clock() else None


def _safe_next(target: str | None) -> str:
    """Only a path of this inbox: never another site (``//evil``, ``https://evil``). Browsers
    drop tabs and newlines from a URL before reading it, so ``/<TAB>/evil`` is ``//evil`` to
    them: a path with a control or space character (never in a path this inbox links to, which
    are percent-encoded) is refused too."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in target):
        return "/"
    return target


def _page(title: str, body: str, status: int = 200, refresh: str | None = None) -> HTMLResponse:
    meta = f'<meta http-equiv="refresh" content="0;url={html.escape(refresh)}">' if refresh else ""
    document = (
        f'<!doctype html><html><head><meta charset="utf-8">{meta}<title>{html.escape(title)}</title>'
        f"</head><body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(document, status_code=status, headers={"cache-control": "no-store"})


@dataclass
class OidcLogin:
    """Signs people in at the issuer; `authenticate` reads the session cookie it sets."""

    verifier: JwtVerifier  # its audience is the client id: ID tokens are for this client
    client_id: str
    client_secret: str | None
    sealer: CookieSealer
    scopes: str = "openid email profile"
    public_url: str | None = None  # where the issuer sends people back; else the request's
    session_seconds: float = 8 * 3600
    routes: list[Route] = field(init=False)

    def __post_init__(self) -> None:
        self.routes = [
            Route("/login", self.login, methods=["GET"]),
            Route("/callback", self.callback, methods=["GET"]),
            Route("/logout", self.logout, methods=["GET", "POST"]),
        ]

    async def authenticate(self, request: HTTPConnection) -> Identity | Refusal:
        if SESSION_COOKIE not in request.cookies:
            return Refusal(401, "no_identity", "not signed in", absent=True)
        session = self.sealer.open("session", request.cookies[SESSION_COOKIE])
        if session is None or not isinstance(session.get("name"), str):
            return Refusal(401, "session_expired", "the session expired or is not this inbox's: sign in")
        return Identity(session["name"], tuple(session.get("groups", ())), "session")

    def _redirect_uri(self, request: Request) -> str:
        base = self.public_url or str(request.base_url)
        return base.rstrip("/") + "/callback"

    def _secure(self, request: Request) -> bool:
        return (self.public_url or str(request.base_url)).startswith("https:")

    async def login(self, request: Request) -> Response:
        try:
            metadata = await self.verifier.issuer.metadata()
        except IdentityProviderUnavailableError as exc:
            return _page("Sign-in is unavailable", f"<p>{html.escape(str(exc))}</p>", 503)
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self._redirect_uri(request),
                "scope": self.scopes,
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        reply = RedirectResponse(f"{metadata['authorization_endpoint']}?{query}", status_code=303)
        target = _safe_next(request.query_params.get("next"))
        sealed = self.sealer.seal(
            "login", {"state": state, "nonce": nonce, "verifier": verifier, "next": target}, _LOGIN_SECONDS
        )
        # Lax, not Strict: it must come back with the issuer's redirect to /callback.
        reply.set_cookie(
            _LOGIN_COOKIE,
            sealed,
            max_age=_LOGIN_SECONDS,
            path="/callback",
            httponly=True,
            secure=self._secure(request),
            samesite="lax",
        )
        return reply

    async def callback(self, request: Request) -> Response:
        started = self.sealer.open("login", request.cookies.get(_LOGIN_COOKIE))
        params = request.query_params
        again = '<p><a href="/login">Sign in again</a></p>'
        if started is None:
            late = "<p>This sign-in was not started here or took too long.</p>"
            return _page("Sign-in failed", late + again, 400)
        if not _same(params.get("state", ""), started["state"]):
            return _page("Sign-in failed", "<p>The sign-in's state does not match.</p>" + again, 400)
        if "error" in params or "code" not in params:
            problem = f"{params.get('error', 'no code')}: {params.get('error_description', '')}"
            return _page("Sign-in refused", f"<p>{html.escape(problem)}</p>" + again, 401)
        try:
            tokens = await self.verifier.issuer.exchange_code(
                code=params["code"],
                redirect_uri=self._redirect_uri(request),
                verifier=started["verifier"],
                client_id=self.client_id,
                client_secret=self.client_secret,
            )
            if isinstance(tokens, str):
                return _page("Sign-in refused", f"<p>{html.escape(tokens)}</p>" + again, 401)
            id_token = str(tokens.get("id_token", ""))
            who = await self.verifier.identity(id_token, "session", nonce=started["nonce"])
        except IdentityProviderUnavailableError as exc:
            return _page("Sign-in is unavailable", f"<p>{html.escape(str(exc))}</p>", 503)
        if isinstance(who, Refusal):
            return _page("Sign-in refused", f"<p>{html.escape(who.detail)}</p>" + again, 401)
        target = _safe_next(started.get("next"))
        reply = _page("Signed in", f'<p><a href="{html.escape(target)}">Continue</a></p>', refresh=target)
        signed_in = {"name": who.name, "groups": list(who.groups)}
        session = self.sealer.seal("session", signed_in, self.session_seconds)
        reply.set_cookie(
            SESSION_COOKIE,
            session,
            max_age=int(self.session_seconds),
            path="/",
            httponly=True,
            secure=self._secure(request),
            samesite="strict",
        )
        reply.delete_cookie(_LOGIN_COOKIE, path="/callback")
        return reply

    async def logout(self, request: Request) -> Response:
        reply = _page("Signed out", '<p><a href="/login">Sign in</a></p>')
        reply.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return reply
