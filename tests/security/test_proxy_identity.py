"""The identity an authenticating proxy names (issue 17, item 3), tried with what a proxy that
appends rather than replaces lets through: the client's own header next to the proxy's. Starlette
hands the first of two headers to whoever asks, which is the client's when the proxy appends;
two names for one caller are a refusal, never a choice."""

from __future__ import annotations

from intermission.inbox.identity import Identity, Refusal, TrustedProxyHeader, parse_networks
from starlette.requests import HTTPConnection

PROXY = TrustedProxyHeader("x-forwarded-user", parse_networks("10.0.0.5"))


def _from(peer: str, *values: str) -> HTTPConnection:
    headers = [(b"x-forwarded-user", v.encode()) for v in values]
    return HTTPConnection({"type": "http", "headers": headers, "client": (peer, 5000), "path": "/"})


async def test_two_identity_headers_from_the_proxy_are_refused() -> None:
    refused = await PROXY.authenticate(_from("10.0.0.5", "mallory", "alice"))
    assert isinstance(refused, Refusal)
    assert refused.status == 401
    assert not refused.absent


async def test_one_identity_header_from_the_proxy_names_the_caller() -> None:
    assert await PROXY.authenticate(_from("10.0.0.5", "alice")) == Identity("alice", method="proxy")


async def test_the_header_from_anyone_else_is_refused() -> None:
    for peer in ("10.0.0.6", "127.0.0.1", "10.0.0.50"):
        assert isinstance(await PROXY.authenticate(_from(peer, "alice")), Refusal), peer
