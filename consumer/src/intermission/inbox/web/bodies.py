"""Request bodies capped while they arrive, before any handler runs.

The whole body (at most ``max_bytes``) is read here and handed on, so a handler never holds more
than the cap and nothing it does (identity, parsing, publishing) starts for an oversized or
stalled body. A declared Content-Length over the cap is refused before a byte is read, and so is
a request that declares both a length and chunks.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .refusal import refuse

__all__ = ["BodyLimit"]

_CLOSE = {"connection": "close"}  # what is left of the body is never read


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if b"transfer-encoding" in headers and b"content-length" in headers:
            # Two framings: uvicorn reads the chunks, a proxy in front may have read the length,
            # and the bytes between are a request smuggled past the proxy (RFC 9112, 6.1).
            detail = "a request may not carry both Content-Length and Transfer-Encoding"
            await refuse(send, 400, "bad_request", detail, headers=_CLOSE)
            return
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                await refuse(send, 400, "bad_request", "Content-Length is not a number", headers=_CLOSE)
                return
            if int(declared) > self.max_bytes:
                await self._too_large(send)
                return
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.timeout_seconds):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return  # the client left: there is no one to answer
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        await self._too_large(send)
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            detail = f"the body did not arrive within {self.timeout_seconds:g} s"
            await refuse(send, 408, "request_timeout", detail, headers=_CLOSE)
            return
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, send: Send) -> None:
        detail = f"bodies are limited to {self.max_bytes} bytes"
        await refuse(send, 413, "too_large", detail, headers=_CLOSE)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read here as one message, then the client's own (its disconnect)."""
    pending: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
