"""The inbox's web defences one by one (inbox/web/): which writes pass the origin gate and the
CSRF check, the event stream caps and deadlines, the body cap and deadline, the header deadline,
and the policy read from settings."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from typing import Any

import httpx
import pytest
from inbox_kit import inbox_client
from intermission.inbox.app import build_app
from intermission.inbox.identity import TrustedProxyHeader, parse_networks
from intermission.inbox.web import WebPolicy
from intermission.inbox.web.bodies import BodyLimit
from intermission.inbox.web.streams import StreamLimits
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from served_kit import harness_inbox, served
from starlette.types import Message, Receive, Scope, Send

START = {"messages": [{"role": "user", "content": [{"text": "hello"}]}], "tools": []}


def _requests(service: ServiceHarness) -> int:
    return len(service.log.topics[service.settings.topics.requests])


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({"content-type": "text/plain"}, 415, "unsupported_media_type"),
        ({"content-type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"origin": "http://evil.example"}, 403, "cross_origin"),
        ({"origin": "http://inbox:8080"}, 403, "cross_origin"),  # a sibling port
        ({"origin": "null"}, 403, "cross_origin"),
        ({"sec-fetch-site": "cross-site"}, 403, "cross_origin"),
        ({"sec-fetch-site": "same-site"}, 403, "cross_origin"),
        ({"cookie": "session=abc"}, 403, "csrf"),  # cookies, so a browser's: the token is due
        ({"origin": "http://inbox", "sec-fetch-site": "same-origin"}, 202, None),
        ({"origin": "https://inbox"}, 202, None),  # behind a proxy that ends TLS
        ({"origin": "https://approvals.example"}, 202, None),  # configured
        ({"cookie": "session=abc", "authorization": "Bearer t"}, 202, None),
        ({}, 202, None),  # curl, an approval system: no browser headers at all
    ],
)
async def test_which_writes_pass_the_gate(headers: dict[str, str], status: int, reason: str | None) -> None:
    web = WebPolicy(allowed_hosts=("inbox",), allowed_origins=("https://approvals.example",))
    async with ServiceHarness(demo.ai) as service, inbox_client(service, web=web) as client:
        body = httpx.Request("POST", "/", json=START).content
        reply = await client.post(
            "/api/runs", content=body, headers={"content-type": "application/json", **headers}
        )
        assert reply.status_code == status, reply.text
        if reason is not None:
            assert reply.json()["reason"] == reason
            assert _requests(service) == 0


async def test_the_page_carries_the_csrf_token_its_writes_must_send() -> None:
    async with ServiceHarness(demo.ai) as service, inbox_client(service) as client:
        page = await client.get("/")
        found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert found, page.text[:500]
        cookie = page.headers["set-cookie"]
        assert "intermission_csrf=" in cookie
        assert "SameSite=Strict" in cookie
        own = {"origin": "http://inbox"}
        refused = await client.post("/api/runs", json=START, headers=own)  # the cookie, no token
        assert refused.status_code == 403
        assert refused.json()["reason"] == "csrf"
        forged = await client.post("/api/runs", json=START, headers={**own, "x-csrftoken": "forged"})
        assert forged.status_code == 403
        sent = await client.post("/api/runs", json=START, headers={**own, "x-csrftoken": found.group(1)})
        assert sent.status_code == 202, sent.text
        assert _requests(service) == 1


async def test_event_streams_are_capped_per_process() -> None:
    web = WebPolicy(max_streams=3, max_streams_per_client=2)
    async with ServiceHarness(demo.ai) as service:  # noqa: SIM117 - the app needs the service
        async with (
            served(build_app(harness_inbox(service), web=web), web=web) as url,
            httpx.AsyncClient(base_url=url, timeout=10) as one,
            httpx.AsyncClient(
                base_url=url, timeout=10, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2")
            ) as two,
        ):
            opened: list[httpx.Response] = []
            try:
                for client in (one, one):
                    opened.append(await client.send(client.build_request("GET", "/api/events"), stream=True))
                    assert opened[-1].status_code == 200
                assert (await one.get("/api/events")).status_code == 429  # this client's 2 are open
                opened.append(await two.send(two.build_request("GET", "/api/events"), stream=True))
                assert opened[-1].status_code == 200  # another client still gets one
                full = await two.get("/api/events")
                assert full.status_code == 503
                assert full.json()["reason"] == "too_many_streams"
                assert full.headers["retry-after"]
                await opened.pop().aclose()  # a slot is free again once a stream closes
                async with asyncio.timeout(10):
                    while True:
                        again = await two.send(two.build_request("GET", "/api/events"), stream=True)
                        if again.status_code == 200:
                            opened.append(again)
                            break
                        await again.aclose()
                        await asyncio.sleep(0.05)
            finally:
                for stream in opened:
                    await stream.aclose()


async def test_behind_a_proxy_event_streams_count_per_identity_not_per_address() -> None:
    """Every approver behind an authenticating proxy shares its address: counted per address,
    the ninth approver to open the page would be refused."""
    web = WebPolicy(max_streams=10, max_streams_per_client=1)
    proxy = TrustedProxyHeader("X-Forwarded-User", parse_networks("127.0.0.1"))
    async with ServiceHarness(demo.ai) as service:
        inbox = dataclasses.replace(harness_inbox(service), authenticator=proxy)
        async with (
            served(build_app(inbox, web=web), web=web) as url,
            httpx.AsyncClient(base_url=url, timeout=10) as client,
        ):
            opened: list[httpx.Response] = []
            try:
                for who in ("alice", "bob", "carol"):
                    request = client.build_request("GET", "/api/events", headers={"X-Forwarded-User": who})
                    opened.append(await client.send(request, stream=True))
                    assert opened[-1].status_code == 200, who
                again = await client.get("/api/events", headers={"X-Forwarded-User": "alice"})
                assert again.status_code == 429  # alice's one stream is open
            finally:
                for stream in opened:
                    await stream.aclose()


async def test_an_event_stream_ends_at_its_deadline_so_no_client_keeps_a_slot() -> None:
    web = WebPolicy(stream_max_seconds=0.5)
    async with ServiceHarness(demo.ai) as service:
        app = build_app(harness_inbox(service), web=web)
        async with served(app, web=web) as url, httpx.AsyncClient(base_url=url, timeout=10) as http:
            async with asyncio.timeout(10), http.stream("GET", "/api/events") as events:
                assert events.status_code == 200
                lines = [line async for line in events.aiter_lines()]  # ends: the server closed it
            assert lines[0] == ": live"


async def test_a_client_that_stops_reading_its_stream_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    """The server's write waits while the client reads nothing (uvicorn's send waits for the
    socket to drain); past the write timeout the stream is dropped and its slot freed."""
    async with ServiceHarness(demo.ai) as service:
        app = build_app(harness_inbox(service), own_view=False)
        limits = StreamLimits(
            app, paths={"/api/events"}, max_streams=4, max_per_client=4, max_seconds=60, write_timeout=0.3
        )
        stuck = asyncio.Event()
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "http.response.body" and message.get("body"):
                await stuck.wait()  # never set: the client does not read

        requested: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

        async def receive() -> Message:
            if requested:
                return requested.pop()
            await stuck.wait()
            return {"type": "http.disconnect"}

        scope: Scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/events",
            "headers": [(b"host", b"127.0.0.1")],
            "query_string": b"",
            "client": ("10.0.0.9", 4242),
            "app": app,
        }
        with caplog.at_level(logging.INFO, logger="intermission.inbox"):
            async with asyncio.timeout(10):
                await limits(scope, receive, send)
        assert sent[0]["status"] == 200
        assert limits.open == 0
        assert "stopped reading" in caplog.text


class _Endless:
    """A client that streams body chunks without end; counts what was taken from it."""

    def __init__(self, chunk: int) -> None:
        self.chunk = chunk
        self.taken = 0

    async def __call__(self) -> Message:
        self.taken += self.chunk
        return {"type": "http.request", "body": b"x" * self.chunk, "more_body": True}


async def _replies(app: Any, scope: Scope, receive: Receive) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _post(headers: list[tuple[bytes, bytes]] | None = None) -> Scope:
    return {"type": "http", "method": "POST", "path": "/api/runs", "headers": headers or []}


async def test_the_body_cap_stops_reading_at_the_cap_and_never_calls_the_app() -> None:
    called = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        called.append(scope)

    endless = _Endless(64 * 1024)
    sent = await _replies(BodyLimit(app, max_bytes=1_048_576, timeout_seconds=30), _post(), endless)
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert endless.taken <= 1_048_576 + 64 * 1024
    assert called == []
    declared = _post([(b"content-length", b"209715200")])
    sent = await _replies(BodyLimit(app, max_bytes=1_048_576, timeout_seconds=30), declared, _Endless(1))
    assert sent[0]["status"] == 413


async def test_a_body_that_does_not_arrive_in_time_is_a_408() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the app must not be called")

    async def silent() -> Message:
        await asyncio.Event().wait()
        raise AssertionError

    async with asyncio.timeout(10):
        sent = await _replies(BodyLimit(app, max_bytes=100, timeout_seconds=0.2), _post(), silent)
    assert sent[0]["status"] == 408


async def test_a_client_that_never_finishes_its_headers_is_cut_off() -> None:
    web = WebPolicy(header_timeout_seconds=0.5)
    async with ServiceHarness(demo.ai) as service:  # noqa: SIM117 - the app needs the service
        async with served(build_app(harness_inbox(service), web=web), web=web) as url:
            host, port = url.removeprefix("http://").split(":")
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n")  # and never the blank line
            async with asyncio.timeout(10):
                for _ in range(5):  # bytes keep coming, each too late to count
                    writer.write(b"x-slow: 1\r\n")
                    await asyncio.sleep(0.1)
                assert await reader.read() == b""  # closed by the server
            writer.close()
            async with httpx.AsyncClient(base_url=url) as http:
                assert (await http.get("/api/pending")).status_code == 200


def test_the_policy_from_settings() -> None:
    default = WebPolicy.from_settings(Settings(), host="10.1.2.3")
    assert default.allowed_hosts == ("127.0.0.1", "localhost", "10.1.2.3")
    assert default.allowed_origins == ()
    settings = Settings.load(
        {
            "INTERMISSION_INBOX_ALLOWED_HOSTS": "inbox.example.com, inbox",
            "INTERMISSION_INBOX_ALLOWED_ORIGINS": "https://approvals.example.com/",
            "INTERMISSION_INBOX_CSRF_SECRET": "s3cret",
            "INTERMISSION_INBOX_MAX_STREAMS_PER_CLIENT": "2",
        }
    )
    policy = WebPolicy.from_settings(settings, host="0.0.0.0")
    assert policy.allowed_hosts == ("inbox.example.com", "inbox")
    assert policy.allowed_origins == ("https://approvals.example.com",)
    assert policy.csrf_secret == "s3cret"
    assert policy.max_streams_per_client == 2
    assert "s3cret" not in repr(policy)
