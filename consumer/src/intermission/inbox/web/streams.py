"""Event streams (SSE) capped per process and per client (its identity, else its address), and
never held forever.

A stream is a connection its client keeps open; without caps one client can take every slot of
the process. Each stream also ends after ``max_seconds`` (EventSource reconnects by itself), and
a client that stops reading, so that a write waits longer than ``write_timeout``, is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .refusal import refuse

__all__ = ["StreamLimits"]

log = logging.getLogger("intermission.inbox")


class _Stalled(Exception):
    """The client has not taken a write for too long."""


@dataclass
class _Progress:
    started: bool = False
    ended: bool = False
    stalled: bool = False


class StreamLimits:
    def __init__(
        self,
        app: ASGIApp,
        *,
        paths: Collection[str],
        max_streams: int,
        max_per_client: int,
        max_seconds: float,
        write_timeout: float,
    ) -> None:
        self.app = app
        self.paths = frozenset(paths)
        self.max_streams = max_streams
        self.max_per_client = max_per_client
        self.max_seconds = max_seconds
        self.write_timeout = write_timeout
        self.by_client: Counter[str] = Counter()

    @property
    def open(self) -> int:
        return self.by_client.total()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        client = _client(scope)
        retry = {"retry-after": "30"}
        if self.open >= self.max_streams:
            detail = f"this inbox serves at most {self.max_streams} event streams"
            await refuse(send, 503, "too_many_streams", detail, headers=retry)
            return
        if self.by_client[client] >= self.max_per_client:
            detail = f"at most {self.max_per_client} event streams per client"
            await refuse(send, 429, "too_many_streams", detail, headers=retry)
            return
        self.by_client[client] += 1
        try:
            await self._serve(scope, receive, send, client)
        finally:
            self.by_client[client] -= 1
            if self.by_client[client] <= 0:
                del self.by_client[client]

    async def _serve(self, scope: Scope, receive: Receive, send: Send, client: str) -> None:
        progress = _Progress()

        async def guarded(message: Message) -> None:
            try:
                async with asyncio.timeout(self.write_timeout):
                    await send(message)
            except TimeoutError:
                progress.stalled = True
                raise _Stalled from None
            progress.started = True
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                progress.ended = True

        deadline = asyncio.timeout(self.max_seconds)
        try:
            async with deadline:
                await self.app(scope, receive, guarded)
        except Exception:
            # The stalled write surfaces from inside the response's task group, maybe grouped.
            if progress.stalled:
                log.info("inbox: dropped an event stream to %s that stopped reading", client)
                return
            if not deadline.expired():
                raise
        if progress.started and not progress.ended and not progress.stalled:
            # Ending the response cleanly lets EventSource reconnect at once.
            end: Message = {"type": "http.response.body", "body": b"", "more_body": False}
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.write_timeout):
                    await send(end)


def _client(scope: Scope) -> str:
    """Whom a stream counts against: the caller's identity when one was established (every
    person behind an authenticating proxy shares its address), else the client address."""
    identity = scope.get("state", {}).get("identity")
    if identity is not None and getattr(identity, "method", "dev") != "dev":
        return f"identity:{identity.name}"
    return f"address:{(scope.get('client') or ('unknown', 0))[0]}"
