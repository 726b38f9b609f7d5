"""An HTTP proxy in front of S3 that answers a share of the requests with S3's own errors.

Toxiproxy works on TCP and cannot make an HTTP answer; throttling S3 endpoints answer
``503 SlowDown``, and S3 may answer ``500 InternalError`` after it has stored the object. So each
request, by a seeded draw, is:

    forwarded          the usual case;
    slowdown           answered 503 SlowDown without reaching S3;
    error              answered 500 InternalError without reaching S3;
    error_after_write  forwarded, S3's answer dropped, 500 InternalError answered instead: the
                       write took place and the client does not know it (its retry of a
                       conditional create then meets its own object).

Requests are forwarded byte for byte (path, query and Host unchanged, so signatures hold).
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections import Counter
from typing import Any

import httpx
import uvicorn

__all__ = ["HttpFaultProxy"]

_KINDS = ("slowdown", "error", "error_after_write")
_ERRORS = {
    "slowdown": (503, "SlowDown", "Please reduce your request rate."),
    "error": (500, "InternalError", "We encountered an internal error. Please try again."),
    "error_after_write": (500, "InternalError", "We encountered an internal error. Please try again."),
}
# Hop-by-hop headers and those that describe the body as sent, which is re-framed here.
_DROPPED = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def _error_body(code: str, message: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        "<RequestId>fault-proxy</RequestId></Error>"
    ).encode()


class HttpFaultProxy:
    """``failure_rate`` of the requests fail, spread evenly over the three kinds of failure.
    Besides, ``conditional_lost`` of the conditional writes (PUT with If-None-Match or If-Match)
    are ``error_after_write`` on their first try (their retries are not), and the first create
    and the first replace always: the ambiguous case, made common."""

    def __init__(
        self,
        upstream: str,
        *,
        failure_rate: float,
        conditional_lost: float = 0.0,
        seed: int = 21,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.failure_rate = failure_rate
        self.conditional_lost = conditional_lost
        self.lost_replaces: list[str] = []  # paths of conditional replaces stored, answered 500
        self._tried: set[tuple[bytes, str]] = set()
        self.counts: Counter[str] = Counter()
        self.lost_creates: list[str] = []  # paths of conditional creates stored, answered 500
        self._random = random.Random(seed)
        self._client = httpx.AsyncClient(timeout=60.0)
        # Bound and listening before the server task runs: clients may connect at once.
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(128)
        self._port: int = self._socket.getsockname()[1]
        self._server = uvicorn.Server(
            uvicorn.Config(
                self._app,
                interface="asgi3",
                lifespan="off",
                log_level="warning",
                access_log=False,
                server_header=False,
                date_header=False,
            )
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def __aenter__(self) -> HttpFaultProxy:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()
        await self._client.aclose()

    def _draw(self, scope: dict[str, Any]) -> str:
        conditions = {k.lower() for k, _ in scope["headers"]} if scope["method"] == "PUT" else set()
        for header, lost in [(b"if-none-match", self.lost_creates), (b"if-match", self.lost_replaces)]:
            if header not in conditions:
                continue
            # Only a write's first try (by key and condition): its retry goes through.
            value = next(v for k, v in scope["headers"] if k.lower() == header)
            attempt = (header + b" " + value, scope["path"])
            first_try = attempt not in self._tried
            self._tried.add(attempt)
            # The first of each kind always (a worker's first is its start-up check's probe).
            if (
                first_try
                and self.conditional_lost
                and (not lost or self._random.random() < self.conditional_lost)
            ):
                lost.append(scope["path"])
                return "error_after_write"
        if self._random.random() >= self.failure_rate:
            return "forwarded"
        return self._random.choice(_KINDS)

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        kind = self._draw(scope)
        self.counts[kind] += 1
        if kind in ("slowdown", "error"):
            await self._answer_error(send, kind)
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        host = next((v for k, v in headers if k.lower() == "host"), None)
        url = self.upstream + scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        request = self._client.build_request(
            scope["method"],
            url,
            headers=[(k, v) for k, v in headers if k.lower() not in _DROPPED] + [("host", host or "")],
            content=body,
        )
        try:
            response = await self._client.send(request, stream=True)
            try:
                payload = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        except httpx.HTTPError:
            await self._answer_error(send, "error")
            return
        if kind == "error_after_write":
            await self._answer_error(send, kind)
            return
        out = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.multi_items()
            if k.lower() not in _DROPPED
        ]
        if scope["method"] != "HEAD":
            out.append((b"content-length", str(len(payload)).encode()))
        elif "content-length" in response.headers:
            out.append((b"content-length", response.headers["content-length"].encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": out})
        await send({"type": "http.response.body", "body": payload if scope["method"] != "HEAD" else b""})

    async def _answer_error(self, send: Any, kind: str) -> None:
        status, code, message = _ERRORS[kind]
        body = _error_body(code, message)
        headers = [(b"content-type", b"application/xml"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
