"""Who is calling the inbox: one seam, `Authenticator`, and the middleware that asks it.

An authenticator turns a request into an `Identity` or a `Refusal`. A refusal marked ``absent``
means "no credentials of my kind here", so `FirstOf` may ask the next one; any other refusal is
final (a spoofed header, a bad token): credentials that fail are never quietly ignored.

Design: identity is decided once, in `RequireIdentity`, before any route runs, so a new route
cannot forget to ask. Only `PUBLIC` paths (the login itself, static assets, the OpenAPI
document) skip it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol, assert_never
from urllib.parse import quote

from intermission_schemas import AnswerProblem, GenerateRequest
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..service.runs.authority import Answerer, authorize

__all__ = [
    "PUBLIC",
    "Authenticator",
    "FirstOf",
    "FixedIdentity",
    "Identity",
    "Refusal",
    "RequireIdentity",
    "TrustedProxyHeader",
    "identity_of",
    "may_answer",
    "parse_networks",
    "why_not_answer",
]

Method = Literal["dev", "proxy", "bearer", "session"]

PUBLIC = frozenset(
    {"/static/inbox.js", "/static/inbox.css", "/api/openapi.json", "/login", "/callback", "/logout"}
)
"""Paths anyone may fetch: nothing in them depends on who asks or reveals a run."""


@dataclass(frozen=True)
class Identity:
    name: str  # what answers carry as answeredBy
    groups: tuple[str, ...] = ()  # from the token's groups claim, for approver rules
    method: Method = "dev"


@dataclass(frozen=True)
class Refusal:
    status: int  # 401 for missing or bad credentials, 503 when the identity provider is down
    reason: str
    detail: str
    absent: bool = False  # no credentials of this kind: another authenticator may still accept


class Authenticator(Protocol):
    async def authenticate(self, request: HTTPConnection) -> Identity | Refusal: ...


def why_not_answer(identity: Identity, request: GenerateRequest, tool: str) -> AnswerProblem | None:
    """Why the worker would refuse ``identity``'s answer to a ``tool`` call of ``request``, or
    None if it would take it: the worker's own rule (approvers, per-tool rules, no
    self-approval), asked here."""
    try:
        authorize(request, tool, "", Answerer(identity.name, frozenset(identity.groups)))
    except AnswerProblem as problem:
        return problem
    return None


def may_answer(identity: Identity, request: GenerateRequest, tool: str) -> bool:
    return why_not_answer(identity, request, tool) is None


def identity_of(request: Request) -> Identity:
    """The caller `RequireIdentity` established (every non-public route has one)."""
    who = getattr(request.state, "identity", None)
    assert isinstance(who, Identity), "route outside RequireIdentity"
    return who


@dataclass(frozen=True)
class FixedIdentity:
    """`intermission dev` and single-user setups: everyone is ``name``."""

    name: str

    async def authenticate(self, request: HTTPConnection) -> Identity | Refusal:
        return Identity(self.name, method="dev")


def parse_networks(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16, ::1"``; ValueError names the entry that is neither."""
    networks = []
    for entry in (e.strip() for e in text.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
    return tuple(networks)


@dataclass(frozen=True)
class TrustedProxyHeader:
    """The identity an authenticating proxy puts in ``header``, believed only from the proxy.

    The peer is the TCP peer (serve_app turns uvicorn's proxy headers off, so X-Forwarded-For
    cannot stand in for it). The header from anyone else is a refusal, not ignored: a client
    that sends it is either misconfigured or impersonating someone.
    """

    header: str
    trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def _from_proxy(self, request: HTTPConnection) -> bool:
        if request.client is None:
            return False
        try:
            peer = ipaddress.ip_address(request.client.host)
        except ValueError:
            return False
        return any(peer in network for network in self.trusted)

    async def authenticate(self, request: HTTPConnection) -> Identity | Refusal:
        if self.header not in request.headers:
            return Refusal(401, "no_identity", f"no {self.header} header", absent=True)
        if not self._from_proxy(request):
            return Refusal(
                401, "untrusted_identity", f"{self.header} is accepted only from the trusted proxies"
            )
        named = request.headers.getlist(self.header)
        if len(named) > 1:
            # A proxy that appends its header keeps the client's: the first is the client's.
            return Refusal(401, "untrusted_identity", f"{self.header} is given {len(named)} times")
        who = named[0].strip()
        if not who or len(who) > 256:
            return Refusal(401, "no_identity", f"the {self.header} header names no approver")
        return Identity(who, method="proxy")


@dataclass(frozen=True)
class FirstOf:
    """The first authenticator that recognises the caller's credentials decides."""

    authenticators: tuple[Authenticator, ...]

    async def authenticate(self, request: HTTPConnection) -> Identity | Refusal:
        for authenticator in self.authenticators:
            result = await authenticator.authenticate(request)
            if isinstance(result, Identity) or not result.absent:
                return result
        return Refusal(401, "no_identity", "this inbox needs an identity: sign in", absent=True)


@dataclass
class RequireIdentity:
    """ASGI middleware: every request outside `PUBLIC` gets an identity or goes no further.

    Pages (GET outside /api/) of an inbox with a login redirect to it; the API answers 401 JSON.
    """

    app: ASGIApp
    authenticator: Authenticator
    login_path: str | None = None
    public: Iterable[str] = field(default=PUBLIC)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in self.public:
            await self.app(scope, receive, send)
            return
        result = await self.authenticator.authenticate(HTTPConnection(scope))
        match result:
            case Identity():
                scope.setdefault("state", {})["identity"] = result
                await self.app(scope, receive, send)
            case Refusal() if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": result.detail[:100]})
            case Refusal():
                await self._refuse(Request(scope), result)(scope, receive, send)
            case _:
                assert_never(result)

    def _refuse(self, request: Request, refusal: Refusal) -> Response:
        page = request.method == "GET" and not request.url.path.startswith("/api/")
        if page and self.login_path and refusal.status == 401:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{self.login_path}?next={quote(target, safe='/')}", status_code=303)
        headers = {"www-authenticate": "Bearer"} if refusal.status == 401 else {}
        body = {"reason": refusal.reason, "detail": refusal.detail}
        return JSONResponse(body, status_code=refusal.status, headers=headers)
