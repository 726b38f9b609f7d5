"""A local server that speaks Gemini's REST protocol, answering from a script.

It lets the real ``google-genai`` SDK (and so `GeminiModel`) run offline: point a client at
``server.base_url`` and every ``generateContent`` / ``streamGenerateContent`` call is answered
with the next scripted reply, while the request is recorded for assertions.

Standard library only: an asyncio server with just enough HTTP/1.1 for the SDK's pooled
keep-alive connections.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import re
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Any, TypeAlias
from urllib.parse import parse_qs, urlsplit

from google import genai
from google.genai import types

JSON: TypeAlias = dict[str, Any]

# The SDK defaults to v1; v1beta/v1alpha are what GOOGLE_GENAI_API_VERSION or older SDKs pick.
_ROUTE = re.compile(
    r"^/(?P<version>v1|v1beta|v1alpha)/models/(?P<model>[^/:]+)"
    r":(?P<method>generateContent|streamGenerateContent)$"
)
_MAX_HEADER_BYTES = 64 * 1024


@dataclass(frozen=True)
class GeminiReply:
    """One HTTP answer. ``body`` is Gemini JSON; a 200 reply to a streaming call is one event."""

    body: JSON
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamedReply:
    """A streamed answer: each chunk becomes one ``data: {json}`` server-sent event.

    Only a streaming request (``streamGenerateContent?alt=sse``) may receive it; a unary request
    gets an HTTP 500 saying so, because the script and the code under test disagree.
    """

    chunks: Sequence[JSON]
    headers: Mapping[str, str] = field(default_factory=dict)


Reply: TypeAlias = GeminiReply | StreamedReply
ReplyFunction: TypeAlias = Callable[[JSON], Reply | Awaitable[Reply]]


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it. ``body`` is the raw bytes, ``json`` the parsed body."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    json: JSON
    model: str
    stream: bool


# --- building replies ---------------------------------------------------------------------------


def encode_signature(signature: bytes | str) -> str:
    """A thought signature as Gemini writes it: bytes become standard, padded base64.

    A ``str`` is sent exactly as given, so a test can also script an unusual encoding.
    """
    if isinstance(signature, str):
        return signature
    return base64.b64encode(signature).decode("ascii")


def candidate_reply(
    parts: Sequence[JSON],
    *,
    finish_reason: str | None = "STOP",
    usage: JSON | None = None,
) -> GeminiReply:
    """A 200 reply with one candidate made of raw Gemini ``parts``."""
    candidate: JSON = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    body: JSON = {"candidates": [candidate], "modelVersion": "scripted"}
    body["usageMetadata"] = usage if usage is not None else _default_usage()
    return GeminiReply(body)


def text_reply(
    text: str,
    *,
    finish_reason: str = "STOP",
    thought_signature: bytes | str | None = None,
    usage: JSON | None = None,
) -> GeminiReply:
    """A model turn with one text part."""
    return candidate_reply(
        [text_part(text, thought_signature=thought_signature)],
        finish_reason=finish_reason,
        usage=usage,
    )


def function_call_reply(
    name: str,
    args: JSON | None = None,
    *,
    id: str | None = None,
    thought_signature: bytes | str | None = None,
    usage: JSON | None = None,
) -> GeminiReply:
    """A model turn that calls one function."""
    part = function_call_part(name, args, id=id, thought_signature=thought_signature)
    return candidate_reply([part], usage=usage)


def error_reply(
    status: int,
    code_text: str | None = None,
    message: str | None = None,
    *,
    retry_after: float | None = None,
) -> GeminiReply:
    """An error in Google's JSON error shape, e.g. ``error_reply(429, "RESOURCE_EXHAUSTED")``.

    ``retry_after`` adds the ``google.rpc.RetryInfo`` detail Gemini sends with quota errors.
    """
    known = _status(status)
    code_text = code_text or (known.name if known else "UNKNOWN")
    error: JSON = {"code": status, "message": message or f"scripted {code_text}", "status": code_text}
    if retry_after is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_after}s"}
        ]
    return GeminiReply({"error": error}, status=status)


def text_part(text: str, *, thought: bool = False, thought_signature: bytes | str | None = None) -> JSON:
    """A raw Gemini text part, for `candidate_reply` or a `StreamedReply` chunk."""
    part: JSON = {"text": text}
    if thought:
        part["thought"] = True
    return _with_signature(part, thought_signature)


def function_call_part(
    name: str,
    args: JSON | None = None,
    *,
    id: str | None = None,
    thought_signature: bytes | str | None = None,
) -> JSON:
    """A raw Gemini function-call part."""
    call: JSON = {"name": name, "args": args or {}}
    if id is not None:
        call["id"] = id
    return _with_signature({"functionCall": call}, thought_signature)


def stream_chunk(*parts: JSON, finish_reason: str | None = None, usage: JSON | None = None) -> JSON:
    """One chunk of a `StreamedReply`; give the last one a ``finish_reason`` and ``usage``."""
    candidate: JSON = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish_reason is not None:
        candidate["finishReason"] = finish_reason
    chunk: JSON = {"candidates": [candidate], "modelVersion": "scripted"}
    if usage is not None:
        chunk["usageMetadata"] = usage
    return chunk


def _with_signature(part: JSON, signature: bytes | str | None) -> JSON:
    if signature is not None:
        part["thoughtSignature"] = encode_signature(signature)
    return part


def _default_usage() -> JSON:
    return {"promptTokenCount": 3, "candidatesTokenCount": 5, "totalTokenCount": 8}


# --- the server ---------------------------------------------------------------------------------


class _BadRequest(Exception):
    pass


@dataclass
class _HttpRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


class GeminiServer:
    """A scripted Gemini endpoint on 127.0.0.1, for testing code that calls Gemini offline.

    Replies come from a list (in order; ``enqueue`` adds more) or from a function of the parsed
    request body. When the list runs out the server answers HTTP 500 with a message that says
    so, so the test fails loudly rather than hanging. Every request lands in ``requests``.

    Example::

        from intermission import GeminiModel
        from intermission.testing import GeminiServer, function_call_reply, text_reply

        async def test_weather_tool() -> None:
            replies = [function_call_reply("weather", {"city": "Oslo"}, id="c1"),
                       text_reply("Sunny in Oslo.")]
            async with GeminiServer(replies) as server:
                model = GeminiModel(client=server.client())
                ...  # run your generation with `model`
                assert server.requests[1].json["contents"][-1]["parts"][0]["functionResponse"]
    """

    def __init__(self, replies: Sequence[Reply] | ReplyFunction = ()) -> None:
        self._function: ReplyFunction | None = replies if callable(replies) else None
        self._queue: deque[Reply] = deque() if callable(replies) else deque(replies)
        self._served = 0
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[None]] = {}
        self._clients: list[genai.Client] = []
        self.requests: list[RecordedRequest] = []
        self.connection_count = 0  # TCP connections accepted: keep-alive keeps this low
        self.base_url = ""

    # lifecycle

    async def start(self) -> GeminiServer:
        self._server = await asyncio.start_server(self._serve_connection, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._server is None:
            return
        for client in self._clients:
            await client.aio.aclose()
        self._clients.clear()
        self._server.close()
        # Pooled client connections stay open: close them, then wait for their handlers, which
        # end on the EOF this causes. Otherwise the loop cancels them later, noisily.
        handlers = list(self._connections.values())
        for writer in list(self._connections):
            writer.close()
        await asyncio.gather(*handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> GeminiServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # scripting

    def enqueue(self, *replies: Reply) -> None:
        """Add replies after the ones still waiting."""
        if self._function is not None:
            raise TypeError("this server answers from a function; it has no reply queue")
        self._queue.extend(replies)

    @property
    def pending(self) -> int:
        """How many scripted replies are still unused."""
        return len(self._queue)

    def client(self) -> genai.Client:
        """A real SDK client pointed at this server (Gemini Developer API, key ``test``).

        The server closes the clients it made when it closes.
        """
        if not self.base_url:
            raise RuntimeError("start the server first (async with GeminiServer(...) as server)")
        client = genai.Client(
            vertexai=False,
            api_key="test",
            http_options=types.HttpOptions(base_url=self.base_url),
        )
        self._clients.append(client)
        return client

    # HTTP

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None  # start_server runs each handler as a task
        self._connections[writer] = task
        self.connection_count += 1
        try:
            while True:
                try:
                    request = await _read_request(reader)
                except _BadRequest as err:
                    await _write_json(writer, 400, _error_body(400, str(err)), keep_alive=False)
                    return
                if request is None:
                    return
                await self._answer(request, writer)
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return  # the client went away; nothing to answer
        finally:
            self._connections.pop(writer, None)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, request: _HttpRequest, writer: asyncio.StreamWriter) -> None:
        keep_alive = request.keep_alive
        split = urlsplit(request.target)
        route = _ROUTE.match(split.path)
        if request.method != "POST" or route is None:
            message = f"no Gemini route for {request.method} {split.path}"
            await _write_json(writer, 404, _error_body(404, message), keep_alive=keep_alive)
            return
        query = {key: values[-1] for key, values in parse_qs(split.query).items()}
        stream = route["method"] == "streamGenerateContent"
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            await _write_json(writer, 400, _error_body(400, "body is not JSON"), keep_alive=False)
            return
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=split.path,
                query=query,
                headers=request.headers,
                body=request.body,
                json=body,
                model=route["model"],
                stream=stream,
            )
        )
        reply = await self._next_reply(body)
        if isinstance(reply, str):
            await _write_json(writer, 500, _error_body(500, reply), keep_alive=keep_alive)
        elif isinstance(reply, StreamedReply):
            if not stream or query.get("alt") != "sse":
                message = "a StreamedReply was scripted but the client did not ask for ?alt=sse"
                await _write_json(writer, 500, _error_body(500, message), keep_alive=keep_alive)
            else:
                await _write_events(writer, reply.chunks, reply.headers, keep_alive=keep_alive)
        elif stream and reply.status == 200:
            await _write_events(writer, [reply.body], reply.headers, keep_alive=keep_alive)
        else:
            await _write_json(writer, reply.status, reply.body, reply.headers, keep_alive=keep_alive)

    async def _next_reply(self, body: JSON) -> Reply | str:
        """The scripted reply, or a message saying why there is none."""
        if self._function is not None:
            try:
                produced = self._function(body)
                return await produced if inspect.isawaitable(produced) else produced
            except Exception as err:  # a broken script must reach the test, not kill the server
                return f"the GeminiServer reply function raised {err!r}"
        if not self._queue:
            return (
                f"GeminiServer ran out of scripted replies: all {self._served} were used "
                f"and request {len(self.requests)} has none"
            )
        self._served += 1
        return self._queue.popleft()


# --- minimal HTTP/1.1 ---------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> _HttpRequest | None:
    """The next request on a keep-alive connection, or None when the client closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if err.partial.strip():
            raise _BadRequest("connection closed inside the request head") from err
        return None
    except asyncio.LimitOverrunError as err:
        raise _BadRequest("request head too large") from err
    if len(head) > _MAX_HEADER_BYTES:
        raise _BadRequest("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError as err:
        raise _BadRequest(f"malformed request line {lines[0]!r}") from err
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":
        raise _BadRequest("Expect: 100-continue is not supported")
    body = await _read_body(reader, headers)
    return _HttpRequest(method=method, target=target, headers=headers, body=body)


async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _read_chunked(reader)
    length = headers.get("content-length", "0")
    if not length.isdigit():
        raise _BadRequest(f"bad Content-Length {length!r}")
    return await reader.readexactly(int(length))


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # Trailers (rare) end with an empty line, like the head.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


def _status(code: int) -> HTTPStatus | None:
    try:
        return HTTPStatus(code)
    except ValueError:
        return None


def _error_body(status: int, message: str) -> JSON:
    known = _status(status)
    return {"error": {"code": status, "message": message, "status": known.name if known else ""}}


def _head(status: int, headers: Mapping[str, str], *, keep_alive: bool) -> bytes:
    known = _status(status)
    reason = known.phrase if known else "Status"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _write_json(
    writer: asyncio.StreamWriter,
    status: int,
    body: JSON,
    extra_headers: Mapping[str, str] | None = None,
    *,
    keep_alive: bool,
) -> None:
    payload = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json; charset=UTF-8",
        "Content-Length": str(len(payload)),
        **(extra_headers or {}),
    }
    writer.write(_head(status, headers, keep_alive=keep_alive) + payload)
    await writer.drain()


async def _write_events(
    writer: asyncio.StreamWriter,
    chunks: Sequence[JSON],
    extra_headers: Mapping[str, str],
    *,
    keep_alive: bool,
) -> None:
    # Chunked transfer encoding lets the connection stay open after the stream, and sends each
    # event as soon as it is written, as Google's front end does.
    headers = {
        "Content-Type": "text/event-stream",
        "Transfer-Encoding": "chunked",
        **extra_headers,
    }
    writer.write(_head(200, headers, keep_alive=keep_alive))
    for chunk in chunks:
        event = f"data: {json.dumps(chunk)}\r\n\r\n".encode()
        writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
