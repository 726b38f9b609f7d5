"""A CSRF token for the inbox page's own writes: asgi-csrf's signed double-submit cookie.

The page carries the token in a meta tag and its script sends it as ``x-csrftoken``. A write
that carries cookies must carry the token too; one without cookies (curl, an approval system
with a bearer token) has no ambient authority a forged request could borrow, and passes.
"""

from __future__ import annotations

from typing import Any

from asgi_csrf import asgi_csrf  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.types import ASGIApp, Scope, Send

from .refusal import refuse

__all__ = ["COOKIE", "HEADER", "csrf", "csrf_token"]

COOKIE = "intermission_csrf"
HEADER = "x-csrftoken"


async def _failed(_: Scope, send: Send, __: Any) -> None:
    detail = f"a write from a browser must send the page's CSRF token in the {HEADER} header"
    await refuse(send, 403, "csrf", detail)


def csrf(app: ASGIApp, *, secret: str, secure: bool) -> ASGIApp:
    wrapped: ASGIApp = asgi_csrf(
        app,
        cookie_name=COOKIE,
        http_header=HEADER,
        signing_secret=secret,
        cookie_samesite="Strict",
        cookie_secure=secure,
        send_csrf_failed=_failed,
    )
    return wrapped


def csrf_token(request: Request) -> str:
    """The token for a page (and the cookie it must match, set on the page's response)."""
    token: str = request.scope["csrftoken"]()
    return token
