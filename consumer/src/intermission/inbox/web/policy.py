"""What the web defences allow: hosts, origins, body sizes, event streams, timeouts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...service.wiring.settings import Settings

__all__ = ["LOCAL_HOSTS", "WebPolicy"]

LOCAL_HOSTS = ("127.0.0.1", "localhost")


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


@dataclass(frozen=True)
class WebPolicy:
    # Host names (no port) answered; anything else is a 400, which stops DNS rebinding.
    allowed_hosts: tuple[str, ...] = LOCAL_HOSTS
    # Origins ("https://approvals.example.com") besides the inbox's own that may write.
    allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1_048_576
    # The whole body must arrive within this, or the request is a 408.
    body_timeout_seconds: float = 30.0
    max_streams: int = 256  # open event streams in this process
    max_streams_per_client: int = 8  # ... from one client address
    # A stream ends after this (EventSource reconnects), so no client keeps a slot forever.
    stream_max_seconds: float = 900.0
    # A client that does not read its stream for this long is dropped.
    stream_write_timeout_seconds: float = 10.0
    # Signs CSRF tokens; inboxes behind one host name must share it.
    csrf_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    csrf_cookie_secure: bool = False
    # uvicorn: connections at once (more get a 503), idle keep-alive, and the time a client has
    # to send a request's headers (uvicorn has no such limit of its own).
    max_connections: int = 1024
    keep_alive_seconds: int = 5
    header_timeout_seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings, *, host: str) -> WebPolicy:
        """The policy of an inbox bound to ``host``: by default only local names and that host."""
        hosts = _names(settings.inbox_allowed_hosts) or tuple(dict.fromkeys((*LOCAL_HOSTS, host)))
        secret = settings.inbox_csrf_secret
        return cls(
            allowed_hosts=hosts,
            allowed_origins=tuple(o.rstrip("/") for o in _names(settings.inbox_allowed_origins)),
            max_body_bytes=settings.inbox_max_body_bytes,
            body_timeout_seconds=settings.inbox_body_timeout_seconds,
            max_streams=settings.inbox_max_streams,
            max_streams_per_client=settings.inbox_max_streams_per_client,
            stream_max_seconds=settings.inbox_stream_max_seconds,
            stream_write_timeout_seconds=settings.inbox_stream_write_timeout_seconds,
            csrf_cookie_secure=settings.inbox_csrf_cookie_secure,
            max_connections=settings.inbox_max_connections,
            keep_alive_seconds=settings.inbox_keep_alive_seconds,
            header_timeout_seconds=settings.inbox_header_timeout_seconds,
            **({"csrf_secret": secret.get_secret_value()} if secret is not None else {}),
        )
