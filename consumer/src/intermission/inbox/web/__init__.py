"""The inbox's web defences, as ASGI middleware around the Starlette app (see ``stack.secure``):
allowed Host names, JSON-only writes from the inbox's own origin with a CSRF token, capped
bodies, capped and time-limited event streams, and security headers on every response."""

from __future__ import annotations

from .policy import WebPolicy
from .stack import secure, stream_limits

__all__ = ["WebPolicy", "secure", "stream_limits"]
