"""One attempt to deliver one webhook: sign, POST, and say what the answer means.

2xx: delivered. 408, 409, 425, 429, 5xx, timeouts and connection errors: try again later
(with the receiver's Retry-After, when it gives one). Any other status (a 4xx, a redirect): the
receiver refuses this webhook for what it is, and no retry will change that: dead-letter it.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeAlias

import httpx
import msgspec
from standardwebhooks import Webhook

from .subscriptions import Subscription

__all__ = ["Attempt", "Delivered", "Permanent", "Retryable", "Sender", "signed_headers"]

_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_MAX_RETRY_AFTER = 86_400.0
_ERROR_BYTES = 200


class Delivered(msgspec.Struct, frozen=True):
    status: int


class Retryable(msgspec.Struct, frozen=True):
    error: str
    retry_after: float | None = None


class Permanent(msgspec.Struct, frozen=True):
    error: str


Attempt: TypeAlias = Delivered | Retryable | Permanent


def signed_headers(secret: str, msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body),
    }


class Sender:
    """Attempts over one shared `httpx.AsyncClient`; each attempt is signed anew, with its own
    timestamp, since receivers refuse signatures older than a few minutes."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._timeout = timeout_seconds
        self._now = now

    async def attempt(self, subscription: Subscription, msg_id: str, body: bytes) -> Attempt:
        headers = signed_headers(subscription.secret, msg_id, self._now(), body)
        try:
            async with (
                asyncio.timeout(self._timeout),
                self._client.stream("POST", subscription.url, content=body, headers=headers) as response,
            ):
                status = response.status_code
                # Only the start of a refusal's body, for the error: a receiver's answer is not
                # ours to hold whole in memory.
                head = b"" if 200 <= status < 300 else await _start_of(response)
        except TimeoutError:
            return Retryable(f"no answer within {self._timeout:g} s")
        except httpx.HTTPError as exc:
            return Retryable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        if 200 <= status < 300:
            return Delivered(status)
        error = f"HTTP {status}: {head.decode('utf-8', 'replace')}"
        if status >= 500 or status in _RETRYABLE_4XX:
            return Retryable(error, _retry_after(response.headers.get("retry-after"), self._now()))
        return Permanent(error)


async def _start_of(response: httpx.Response) -> bytes:
    head = b""
    async for chunk in response.aiter_bytes():
        head += chunk
        if len(head) >= _ERROR_BYTES:
            break
    return head[:_ERROR_BYTES]


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), _MAX_RETRY_AFTER)
