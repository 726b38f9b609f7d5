"""Issue 17, items 1, 2 and 9, as an attacker tried them: forged writes from another origin (a real
Chromium on a page served from another port and another site), the inbox framed by a foreign
page, a foreign Host header (DNS rebinding), a body streamed without end, and event streams
opened without limit. Each is refused and nothing is published."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from browser_kit import chromium
from intermission.inbox.app import build_app
from intermission.service.demo import app as demo
from intermission.testing import ServiceHarness
from served_kit import harness_inbox, page_server, served
from starlette.types import Message, Receive, Scope, Send

TRANSFER = {
    "messages": [{"role": "user", "content": [{"text": "Transfer $1000"}]}],
    "tools": ["transferMoney"],
}
CAP = 1_048_576  # the default body cap


def _published(service: ServiceHarness) -> int:
    topics = service.settings.topics
    return sum(len(service.log.topics[t]) for t in (topics.requests, topics.resumes))


async def _paused(http: httpx.AsyncClient, run_id: str) -> tuple[str, int]:
    """A transfer run paused on its interrupt, started as an API client would (no browser)."""
    reply = await http.post("/api/runs", json={**TRANSFER, "runId": run_id})
    assert reply.status_code == 202, reply.text
    async with asyncio.timeout(15):
        while True:
            state = (await http.get(f"/api/runs/{run_id}")).json()
            if state["status"] == "pending":
                pending = state["pending"]
                return pending["open"][0], pending["snapshot"]["version"]
            await asyncio.sleep(0.05)


def _attack_page(inbox: str, run_id: str, ref: str) -> str:
    """A text/plain form (its one field's name and value make a JSON body) and no-cors fetches."""
    approve = {"restart": {ref: {"status": "APPROVED"}}}
    name = json.dumps(approve)[:-1] + ', "resumeId": "'
    start = json.dumps({**TRANSFER, "runId": "forged-start"})
    return f"""<!doctype html><html><body>
<iframe name="sink" id="sink"></iframe>
<form id="forged" method="POST" enctype="text/plain" target="sink"
 action="{inbox}/api/runs/{run_id}/answers"><input type="hidden" name='{name}' value='x"}}'></form>
<script>
(async () => {{
  const sink = document.getElementById("sink");
  const loaded = new Promise((resolve) => {{ sink.onload = resolve; setTimeout(resolve, 5000); }});
  document.getElementById("forged").submit();
  await loaded;
  const plain = {{ method: "POST", mode: "no-cors", headers: {{ "content-type": "text/plain" }} }};
  await fetch("{inbox}/api/runs", {{ ...plain, body: {json.dumps(start)} }}).catch(() => null);
  await fetch("{inbox}/api/runs/{run_id}/answers", {{ ...plain, body: {json.dumps(json.dumps(approve))} }})
    .catch(() => null);
  document.title = "done";
}})();
</script></body></html>"""


async def test_forged_writes_from_another_origin_are_refused_in_chromium() -> None:
    """From a sibling port (same site) and from another site: a text/plain form and no-cors
    fetches try to start a run and approve a pending one. Nothing is published."""
    async with (
        ServiceHarness(demo.ai) as service,
        served(service=service) as inbox,
        httpx.AsyncClient(base_url=inbox, timeout=10) as http,
    ):
        run_id = "victim"
        ref, _ = await _paused(http, run_id)
        before = _published(service)
        pages = {"/attack": _attack_page(inbox, run_id, ref)}
        async with page_server(pages.get) as port, chromium() as browser:
            # 127.0.0.1:port is the inbox's own site; localhost:port is another site.
            for attacker in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
                page = await browser.new_page()
                await page.goto(f"{attacker}/attack")
                await page.wait_for_function("document.title === 'done'", timeout=20_000)
                await page.close()
        state = (await http.get(f"/api/runs/{run_id}")).json()
        assert state["status"] == "pending", state
        assert state["answers"] == []
        assert (await http.get("/api/runs/forged-start")).status_code == 404
        assert _published(service) == before


async def test_the_inbox_refuses_to_be_framed_by_another_site() -> None:
    async with ServiceHarness(demo.ai) as service, served(service=service) as inbox:
        frame = f'<!doctype html><iframe id="f" src="{inbox}/" width="800" height="600"></iframe>'
        async with page_server({"/frame": frame}.get) as port, chromium() as browser:
            page = await browser.new_page()
            await page.goto(f"http://localhost:{port}/frame")
            await page.wait_for_load_state("load")
            titles = [await f.evaluate("document.title") for f in page.frames if f is not page.main_frame]
            assert "Intermission inbox" not in titles, [f.url for f in page.frames]
            # The inbox itself, opened directly, runs under its policy without a violation.
            own = await browser.new_page()
            console: list[str] = []
            own.on("console", lambda message: console.append(message.text))
            await own.goto(f"{inbox}/")
            await own.wait_for_selector("body.live")
            assert not [m for m in console if "Content Security Policy" in m], console
        async with httpx.AsyncClient(base_url=inbox) as http:
            for path in ("/", "/api/pending", "/static/inbox.js", "/no-such-page"):
                headers = (await http.get(path)).headers
                assert "frame-ancestors 'none'" in headers["content-security-policy"], path
                assert headers["x-frame-options"] == "DENY", path
                assert headers["x-content-type-options"] == "nosniff", path
                assert headers["referrer-policy"] in {"no-referrer", "same-origin"}, path


async def test_a_foreign_host_header_is_refused() -> None:
    """DNS rebinding: evil.example resolved to the inbox's address; the browser sends its name."""
    async with ServiceHarness(demo.ai) as service, served(service=service) as inbox:
        before = _published(service)
        async with httpx.AsyncClient(base_url=inbox, headers={"host": "evil.example"}) as http:
            assert (await http.get("/")).status_code == 400
            assert (await http.get("/api/pending")).status_code == 400
            assert (await http.post("/api/runs", json=TRANSFER)).status_code == 400
        assert _published(service) == before
        async with httpx.AsyncClient(base_url=inbox.replace("127.0.0.1", "localhost")) as http:
            assert (await http.get("/")).status_code == 200


class _Metered:
    """Counts the body bytes the inbox takes from the server, so the test sees what it buffers."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.taken = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def metered() -> Message:
            message = await receive()
            self.taken += len(message.get("body", b""))
            return message

        await self.app(scope, metered, send)


async def _post_raw(url: str, head: str, chunks: int, chunk: bytes) -> tuple[bytes, int]:
    """POST with ``head`` and then up to ``chunks`` chunks (chunked encoding) until the server
    answers or stops reading; the status line and how many body bytes went out."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    sent = 0
    try:
        writer.write(head.encode())
        answer = asyncio.ensure_future(reader.readline())
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        for _ in range(chunks):
            if answer.done():
                break
            try:
                writer.write(frame)
                await asyncio.wait_for(writer.drain(), 5)
            except (ConnectionError, TimeoutError):
                break
            sent += len(chunk)
        return await asyncio.wait_for(answer, 10), sent
    finally:
        writer.close()


async def test_a_streamed_huge_body_is_refused_before_it_is_buffered() -> None:
    """200 MB in chunks, with no Content-Length: a 413 once past the cap, the body read no further."""
    async with ServiceHarness(demo.ai) as service:
        app = build_app(harness_inbox(service))
        meter = _Metered(app.build_middleware_stack())
        app.middleware_stack = meter  # the server hands every message through the meter
        async with served(app) as inbox:
            head = (
                "POST /api/runs HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                "transfer-encoding: chunked\r\n\r\n"
            )
            status, sent = await _post_raw(inbox, head, 200 * 16, b"x" * 65_536)
            assert status.startswith(b"HTTP/1.1 413"), status
            assert meter.taken <= CAP + 256 * 1024, meter.taken
            assert sent < 64 * CAP, sent  # the client was stopped long before its 200 MB

            declared = (
                "POST /api/runs HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                f"content-length: {200 * CAP}\r\n\r\n"
            )
            status, _ = await _post_raw(inbox, declared, 0, b"")
            assert status.startswith(b"HTTP/1.1 413"), status
        assert _published(service) == 0


async def test_event_streams_are_capped_per_client() -> None:
    async with (
        ServiceHarness(demo.ai) as service,
        served(service=service) as inbox,
        httpx.AsyncClient(base_url=inbox, timeout=10) as http,
    ):
        streams = []
        try:
            for _ in range(8):
                stream = await http.send(http.build_request("GET", "/api/events"), stream=True)
                streams.append(stream)
                assert stream.status_code == 200
            ninth = await http.get("/api/events")
            assert ninth.status_code == 429, ninth.status_code
            assert ninth.json()["reason"] == "too_many_streams"
        finally:
            for stream in streams:
                await stream.aclose()
