"""``/healthz``, ``/readyz`` and ``/metrics`` on one port, answered by the worker's own event
loop: no thread, no extra process. ``/healthz`` answering at all is the first liveness signal
(a blocked or dead loop answers nothing); the second is progress: with ``liveness`` given, it
answers 503 while records wait and none finishes (`liveness.Progress`).

A deliberately tiny HTTP/1.0-style server (one request per connection, GET and HEAD only):
probes and Prometheus scrapes need no more, and it adds no dependency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import msgspec

from .liveness import Stall
from .readiness import Readiness

__all__ = ["Endpoints", "ReadinessReport"]


class ReadinessReport(msgspec.Struct, frozen=True):
    """What ``/readyz`` answers: ready or not (200 or 503), and why, as JSON."""

    ready: bool
    detail: msgspec.Raw


log = logging.getLogger("intermission.worker")

_READ_TIMEOUT_S = 5.0
_MAX_HEADER_LINES = 100
_TEXT = "text/plain; charset=utf-8"
_JSON = "application/json"
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


class Endpoints:
    def __init__(
        self,
        *,
        readiness: Callable[[], Awaitable[Readiness | ReadinessReport]],
        metrics: Callable[[], Awaitable[bytes]],
        metrics_content_type: str,
        liveness: Callable[[], Stall | None] | None = None,
    ) -> None:
        self._readiness = readiness
        self._liveness = liveness
        self._metrics = metrics
        self._metrics_type = metrics_content_type
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; returns the port (the one chosen, when ``port`` is 0)."""
        self._server = await asyncio.start_server(self._answer, host, port)
        bound: int = self._server.sockets[0].getsockname()[1]
        return bound

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def respond(self, method: str, path: str) -> tuple[int, str, bytes]:
        """Status, content type and body for one request."""
        if method not in ("GET", "HEAD"):
            return 405, _TEXT, b"GET or HEAD\n"
        match path:
            case "/healthz":
                stall = self._liveness() if self._liveness is not None else None
                if stall is not None:
                    return 503, _JSON, msgspec.json.encode(stall) + b"\n"
                return 200, _TEXT, b"ok\n"
            case "/readyz":
                state = await self._readiness()
                body = state.detail if isinstance(state, ReadinessReport) else msgspec.json.encode(state)
                return (200 if state.ready else 503), _JSON, bytes(body) + b"\n"
            case "/metrics":
                return 200, self._metrics_type, await self._metrics()
            case _:
                return 404, _TEXT, b"/healthz, /readyz or /metrics\n"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT_S):
                request = await reader.readline()
                for _ in range(_MAX_HEADER_LINES):  # headers are read and ignored
                    if (await reader.readline()).strip() == b"":
                        break
            parts = request.decode("latin-1").split()
            if len(parts) != 3:
                status, kind, body = 400, _TEXT, b"bad request\n"
                method = "GET"
            else:
                method, target = parts[0], parts[1]
                status, kind, body = await self.respond(method, target.split("?", 1)[0])
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode("latin-1") + (b"" if method == "HEAD" else body))
            await writer.drain()
        except (TimeoutError, ConnectionError, ValueError):
            pass  # a client that went away or sent nothing: nothing to answer
        except Exception:
            log.exception("health endpoint failed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
