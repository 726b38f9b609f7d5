"""The attacks of issue 17 against ``intermission dev`` as a person runs it (its own process,
settings from its environment), from the outside: a smuggled body, a foreign Host, a write from
a sibling port, a text/plain write, a spoofed or doubled identity header. What the in-process
tests prove must also hold for the product's own wiring."""

from __future__ import annotations

import json
from pathlib import Path

from dev_kit import dev_server
from raw_kit import raw

BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "hi"}]}], "tools": []}).encode()


def _post(own: str, *headers: str) -> str:
    lines = ["POST /api/runs HTTP/1.1", f"Host: {own}", f"Content-Length: {len(BODY)}", *headers]
    return "\n".join(lines)


async def test_intermission_dev_refuses_the_web_attacks(tmp_path: Path) -> None:
    async with dev_server(tmp_path) as url:
        own = url.removeprefix("http://").rstrip("/")
        port = int(own.split(":")[1])
        json_type = "Content-Type: application/json"
        chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
        attempts = {
            "smuggled": (_post(own, json_type, "Transfer-Encoding: chunked"), chunked, 400),
            "foreign host": (_post("evil.example", json_type), BODY, 400),
            "sibling port": (_post(own, json_type, f"Origin: http://127.0.0.1:{port + 1}"), BODY, 403),
            "text/plain": (_post(own, "Content-Type: text/plain"), BODY, 415),
            "rebinding read": ("GET /api/pending HTTP/1.1\nHost: attacker.example", b"", 400),
        }
        for case, (head, body, expected) in attempts.items():
            status, reply = await raw(url, head, body)
            assert status == expected, (case, reply)
        status, reply = await raw(url, _post(own, json_type), BODY)  # curl's own write still works
        assert status == 202, reply


async def test_dev_behind_a_proxy_believes_one_header_from_the_proxy_only(
    tmp_path: Path,
) -> None:
    proxy = {
        "INTERMISSION_INBOX_IDENTITY_HEADER": "x-forwarded-user",
        "INTERMISSION_INBOX_TRUSTED_PROXIES": "127.0.0.1",
    }
    async with dev_server(tmp_path, **proxy) as url:
        own = url.removeprefix("http://").rstrip("/")
        read = f"GET /api/pending HTTP/1.1\nHost: {own}"
        status, _ = await raw(url, f"{read}\nX-Forwarded-User: alice")
        assert status == 200
        status, reply = await raw(url, f"{read}\nX-Forwarded-User: mallory\nX-Forwarded-User: alice")
        assert status == 401, reply
        status, _ = await raw(url, read)
        assert status == 401
