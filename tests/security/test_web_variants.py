"""Issue 17, items 1 to 4 and 9, tried again the way an attacker's next attempt looks: raw HTTP
to a real uvicorn (request lines and headers no HTTP client library would send), Host tricks,
Origin look-alikes, media types that merely start like JSON, bodies whose length lies, and
every method on the routes that need an identity. Each is refused and nothing is published."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from intermission.inbox.app import build_app
from intermission.inbox.identity import TrustedProxyHeader, parse_networks
from intermission.service.demo import app as demo
from intermission.testing import ServiceHarness
from raw_kit import raw as _raw
from served_kit import harness_inbox, served

BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "hi"}]}], "tools": []}).encode()


def _published(service: ServiceHarness) -> int:
    topics = service.settings.topics
    return sum(len(service.log.topics[t]) for t in (topics.requests, topics.resumes))


@contextlib.asynccontextmanager
async def _inbox(*, proxy: bool = False) -> AsyncIterator[tuple[ServiceHarness, str, str]]:
    """The service, the inbox's URL and its own Host header value. With ``proxy`` the identity
    comes only from a proxy at an address the test is not at: every caller here has none."""
    async with ServiceHarness(demo.ai) as service:
        inbox = harness_inbox(service)
        if proxy:
            inbox.authenticator = TrustedProxyHeader("x-forwarded-user", parse_networks("10.9.9.9"))
        async with served(build_app(inbox)) as url:
            yield service, url, url.removeprefix("http://")


def _post(host: str, *headers: str, path: str = "/api/runs", length: int = len(BODY)) -> str:
    extra = "".join(f"\n{h}" for h in headers)
    return f"POST {path} HTTP/1.1\nHost: {host}\nContent-Length: {length}{extra}"


HOSTS = [
    "evil.example",
    "127.0.0.1.evil.example",
    "localhost.evil.example",
    "evil.example:{port}",
    "127.0.0.1@evil.example",
    "",
]


async def test_a_foreign_host_header_is_refused_whatever_its_shape() -> None:
    async with _inbox() as (service, url, own):
        port = own.split(":")[1]
        for host in (h.format(port=port) for h in HOSTS):
            status, _ = await _raw(url, f"GET /api/pending HTTP/1.1\nHost: {host}")
            assert status == 400, host
            status, _ = await _raw(url, _post(host, "Content-Type: application/json"), BODY)
            assert status == 400, host
        assert _published(service) == 0


async def test_an_absolute_uri_or_x_forwarded_host_does_not_stand_in_for_the_host() -> None:
    async with _inbox() as (service, url, own):
        # The request line names the inbox; the Host header (what a rebinding page sends) does not.
        status, _ = await _raw(url, f"GET http://{own}/api/pending HTTP/1.1\nHost: evil.example")
        assert status == 400
        # The reverse: a request line naming another site reaches no route of this inbox.
        status, _ = await _raw(url, f"GET http://evil.example/api/pending HTTP/1.1\nHost: {own}")
        assert status in {400, 404}
        status, _ = await _raw(url, f"GET /api/pending HTTP/1.1\nHost: evil.example\nX-Forwarded-Host: {own}")
        assert status == 400
        assert _published(service) == 0


ORIGINS = [
    "http://{own}.evil.example",
    "http://{own}@evil.example",
    "http://evil.example/{own}",
    "http://{own}:1",
    "http://{own} evil",
    "null",
    "file://",
    "http://127.0.0.2:{port}",
    "http://localhost:{port}",  # the same machine, another origin
    "ws://{own}",
]


async def test_origin_look_alikes_may_not_write() -> None:
    async with _inbox() as (service, url, own):
        for origin in ORIGINS:
            value = origin.format(own=own, port=own.split(":")[1])
            head = _post(own, "Content-Type: application/json", f"Origin: {value}")
            status, reply = await _raw(url, head, BODY)
            assert status == 403, (value, reply)
        assert _published(service) == 0


MEDIA = [
    "application/jsonx",
    "application/json-patch+json",
    "text/plain; application/json",
    "application/json, text/plain",
    "",
    "multipart/form-data; boundary=x",
]


async def test_media_types_that_merely_look_like_json_are_refused() -> None:
    async with _inbox() as (service, url, own):
        for media in MEDIA:
            status, reply = await _raw(url, _post(own, f"Content-Type: {media}"), BODY)
            assert status == 415, (media, reply)
        assert _published(service) == 0


async def test_json_with_parameters_is_json_and_accepted() -> None:
    async with _inbox() as (service, url, own):
        status, reply = await _raw(url, _post(own, "Content-Type: Application/JSON;charset=x"), BODY)
        assert status == 202, reply
        assert _published(service) == 1


@pytest.mark.parametrize(
    "framing",
    [
        ("Transfer-Encoding: chunked",),  # and a Content-Length: both framings at once
        ("Content-Length: 3",),  # two lengths
        ("Transfer-Encoding: gzip, chunked",),
    ],
)
async def test_a_body_whose_length_lies_is_refused(framing: tuple[str, ...]) -> None:
    async with _inbox() as (service, url, own):
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
        status, reply = await _raw(url, _post(own, "Content-Type: application/json", *framing), chunked)
        assert status == 400, reply
        assert _published(service) == 0


@pytest.mark.parametrize("length", ["+5", "5 5", "0x10", "\uff15", "\u00b2", "-1", "99999999999999999999"])
async def test_a_content_length_that_is_no_number_is_refused(length: str) -> None:
    async with _inbox() as (service, url, own):
        head = (
            f"POST /api/runs HTTP/1.1\nHost: {own}\nContent-Type: application/json\nContent-Length: {length}"
        )
        status, reply = await _raw(url, head, BODY)
        assert status in {400, 413}, reply
        assert _published(service) == 0


METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "get", "TRACE"]
PATHS = [
    "/",
    "/api/pending",
    "/api/events",
    "/api/runs",
    "/api/runs/x",
    "/api/runs/x/pending",
    "/runs/x/card",
    "/api/%70ending",  # decoded before routing: still /api/pending
    "//api/pending",
    "/api/pending/",
    "/static/inbox.js/../../api/pending",
]


async def test_every_method_on_every_route_needs_an_identity() -> None:
    """Behind a proxy nobody here is at: no method (HEAD, OPTIONS, an override header, a
    lower-case name) and no spelling of a path reaches a run, a token or a write."""
    async with _inbox(proxy=True) as (service, url, own):
        for method in METHODS:
            for path in PATHS:
                extra = "\nContent-Type: application/json\nX-HTTP-Method-Override: GET"
                head = f"{method} {path} HTTP/1.1\nHost: {own}\nContent-Length: {len(BODY)}{extra}"
                status, reply = await _raw(url, head, BODY)
                assert status in {401, 404, 405, 400}, (method, path, reply)
                assert b"token" not in reply.lower().split(b"\r\n\r\n", 1)[-1], (method, path)
                assert b"access-control-allow" not in reply.lower(), (method, path)
        assert _published(service) == 0
