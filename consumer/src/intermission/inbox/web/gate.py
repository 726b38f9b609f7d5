"""Writes only as JSON and only from the inbox's own origin (or one configured as allowed).

Browsers send a cross-origin ``text/plain`` POST (a form, a ``no-cors`` fetch) without asking
first; requiring ``application/json`` turns every such write into one the browser must preflight,
which the inbox never allows. Origin and Sec-Fetch-Site then refuse what a browser says came from
elsewhere, a sibling port or subdomain included. Clients that are not browsers send neither
header and are not affected.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from .refusal import refuse

__all__ = ["WriteGate"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_OWN_SITE = frozenset({"same-origin", "none"})  # "none": the user's own navigation


class WriteGate:
    def __init__(self, app: ASGIApp, *, allowed_origins: Collection[str]) -> None:
        self.app = app
        self.allowed_origins = frozenset(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        refused = self._foreign(scope, headers)
        if refused is not None:
            await refuse(send, 403, "cross_origin", refused)
            return
        media = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if media != b"application/json":
            detail = f"writes take content-type application/json, not {media.decode('latin-1')!r}"
            await refuse(send, 415, "unsupported_media_type", detail)
            return
        await self.app(scope, receive, send)

    def _foreign(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        """Why the browser's own account of where the request came from is refused, if it is."""
        origin = headers.get(b"origin")
        if origin is not None:
            text = origin.decode("latin-1").strip()
            if text in self.allowed_origins or self._own(scope, headers, text):
                return None
            return f"writes from origin {text!r} are not allowed"
        site = headers.get(b"sec-fetch-site", b"").decode("latin-1").strip().lower()
        if site and site not in _OWN_SITE:
            return f"writes from a {site} page are not allowed"
        return None

    @staticmethod
    def _own(scope: Scope, headers: dict[bytes, bytes], origin: str) -> bool:
        # The Host header was checked against the allowed hosts already. A proxy that ends TLS
        # forwards plain http, so an https origin naming this host is this inbox too.
        parts = urlsplit(origin)
        host = headers.get(b"host", b"").decode("latin-1").lower()
        return parts.scheme in {scope.get("scheme", "http"), "https"} and parts.netloc.lower() == host
