"""The order of the defences: cheap refusals on headers first, the body last.

Headers go on every response, then a foreign Host, a write from another
origin or not in JSON, and a browser's write without its CSRF token are refused before a byte
of the body is read; the body is then read up to its cap before any handler runs.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from .bodies import BodyLimit
from .csrf import csrf
from .gate import WriteGate
from .headers import SecurityHeaders
from .policy import WebPolicy
from .streams import StreamLimits

__all__ = ["STREAM_PATHS", "secure", "stream_limits"]

STREAM_PATHS = ("/api/events",)


def secure(policy: WebPolicy) -> list[Middleware]:
    """The middleware for ``Starlette(middleware=...)``, outermost first."""
    return [
        Middleware(SecurityHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(policy.allowed_hosts), www_redirect=False),
        Middleware(WriteGate, allowed_origins=policy.allowed_origins),
        Middleware(csrf, secret=policy.csrf_secret, secure=policy.csrf_cookie_secure),
        Middleware(BodyLimit, max_bytes=policy.max_body_bytes, timeout_seconds=policy.body_timeout_seconds),
    ]


def stream_limits(policy: WebPolicy) -> Middleware:
    """The event-stream caps, placed inside identity: behind an authenticating proxy every
    person shares the proxy's address, so a stream counts against its caller's identity."""
    return Middleware(
        StreamLimits,
        paths=STREAM_PATHS,
        max_streams=policy.max_streams,
        max_per_client=policy.max_streams_per_client,
        max_seconds=policy.stream_max_seconds,
        write_timeout=policy.stream_write_timeout_seconds,
    )
