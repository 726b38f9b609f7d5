"""Hostile input through the inbox: whatever the worker would dead-letter, the API refuses with a
4xx before anything is published, and no schema on the topics takes the page down for everyone.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from browser_kit import asking_app, chromium, served
from hostile import doubling, nested
from inbox_kit import TOKEN_SECRET, inbox_client
from intermission.inbox.context import Inbox
from intermission.inbox.identity import TrustedProxyHeader, parse_networks
from intermission.inbox.view import PendingView
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_schemas import (
    InterruptRaised,
    PendingInterrupt,
    RunCompleted,
    SnapshotRef,
    encode,
)
from playwright.async_api import expect
from pydantic import SecretStr

SETTINGS = Settings(resume_token_secret=SecretStr(TOKEN_SECRET))
TRANSFER = {
    "messages": [{"role": "user", "content": [{"text": "Transfer $1000"}]}],
    "tools": ["transferMoney"],
}


SELF_REFERENCING = {
    "$ref": "#/$defs/A",
    "$defs": {"A": {"type": "object", "properties": {"again": {"$ref": "#/$defs/A"}}}},
}


def _published(service: ServiceHarness) -> dict[str, int]:
    topics = service.settings.topics
    return {t: len(service.log.topics[t]) for t in (topics.requests, topics.resumes)}


def _interrupt(schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": "ask", "description": "ask someone", "outputSchema": schema}


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("reply-dotdot", {"replyTo": ".."}, "invalid_body"),
    ("reply-dot", {"replyTo": "."}, "invalid_body"),
    ("reply-internal", {"replyTo": "__consumer_offsets"}, "invalid_body"),
    ("reply-long", {"replyTo": "x" * 250}, "invalid_body"),
    ("reply-own-topic", {"replyTo": "intermission.requests"}, "invalid_body"),
    ("expiry-huge", {"expiry": {"afterSeconds": 1e300}}, "invalid_body"),
    ("expiry-negative", {"expiry": {"afterSeconds": -5}}, "invalid_body"),
    ("deep-input", {"input": nested(70)}, "invalid_body"),
    ("deep-context", {"context": {"x": nested(70)}}, "invalid_body"),
    ("loop-schema", {"interrupts": [_interrupt({"$ref": "#"})]}, "schema_too_complex"),
    ("doubling-schema", {"interrupts": [_interrupt(doubling(30))]}, "schema_too_complex"),
    ("long-key", {"idempotencyKey": "k" * 300}, "invalid_body"),
]


@pytest.mark.parametrize(("name", "fields", "reason"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
async def test_requests_the_worker_would_dead_letter_are_refused_and_nothing_is_published(
    name: str, fields: dict[str, Any], reason: str
) -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        before = _published(service)
        reply = await client.post("/api/runs", json={**TRANSFER, "runId": name, **fields})
        assert reply.status_code == 422, reply.text
        assert reply.json()["reason"] == reason
        assert reply.json()["detail"]
        assert _published(service) == before
        assert service.dead_letters() == []


async def test_reply_topics_outside_the_allow_list_are_refused() -> None:
    async with (
        ServiceHarness(demo.ai, settings=SETTINGS) as service,
        inbox_client(service, reply_topics=("team-*",)) as client,
    ):
        before = _published(service)
        reply = await client.post("/api/runs", json={**TRANSFER, "runId": "r1", "replyTo": "billing"})
        assert reply.status_code == 422, reply.text
        assert "not an allowed reply topic" in reply.json()["detail"]
        assert _published(service) == before
        allowed = await client.post("/api/runs", json={**TRANSFER, "runId": "r2", "replyTo": "team-a"})
        assert allowed.status_code == 202, allowed.text


async def _paused(client: httpx.AsyncClient, run_id: str) -> str:
    reply = await client.post("/api/runs", json={**TRANSFER, "runId": run_id})
    assert reply.status_code == 202, reply.text
    for _ in range(250):
        got = await client.get(f"/api/runs/{run_id}")
        if got.status_code == 200 and got.json()["status"] == "pending":
            ref: str = got.json()["pending"]["interrupts"][0]["ref"]
            return ref
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} never paused")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"restart": {"REF": {"status": "APPROVED"}}, "resumeId": "bad id"}, "resumeId"),
        ({"restart": {"REF": {"status": "APPROVED"}}, "resumeId": "x" * 129}, "resumeId"),
        ({"restart": {"REF": nested(70)}}, "nested deeper"),
        ({"respond": {"REF": {"status": "done"}}, "metadata": nested(70)}, "nested deeper"),
    ],
)
async def test_answers_the_worker_would_dead_letter_are_refused(body: dict[str, Any], detail: str) -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        ref = await _paused(client, "ans-1")
        before = _published(service)
        text = encode(body).decode().replace("REF", ref)
        reply = await client.post(
            "/api/runs/ans-1/answers", content=text, headers={"content-type": "application/json"}
        )
        assert reply.status_code == 422, reply.text
        assert detail in reply.json()["detail"]
        assert _published(service) == before
        assert service.dead_letters() == []


async def test_an_identity_over_256_characters_is_refused() -> None:
    async with (
        ServiceHarness(demo.ai, settings=SETTINGS) as service,
        inbox_client(
            service, authenticator=TrustedProxyHeader("X-Forwarded-User", parse_networks("127.0.0.1"))
        ) as client,
    ):
        client.headers["X-Forwarded-User"] = "requester"
        ref = await _paused(client, "who-1")
        before = _published(service)
        reply = await client.post(
            "/api/runs/who-1/answers",
            json={"restart": {ref: {"status": "APPROVED"}}},
            headers={"X-Forwarded-User": "a" * 300},
        )
        # The proxy's header is refused by the authenticator itself: no such approver.
        assert reply.status_code == 401, reply.text
        assert reply.json()["reason"] == "no_identity"
        assert _published(service) == before


async def test_a_token_answer_nested_too_deep_is_refused() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        await _paused(client, "tok-1")
        token = (await client.get("/api/runs/tok-1")).json()["pending"]["interrupts"][0]["token"]
        before = _published(service)
        reply = await client.post(f"/api/answer/{token}", json={"resumed": nested(70)})
        assert reply.status_code == 422, reply.text
        assert _published(service) == before


def _raised(run_id: str, schema: dict[str, Any]) -> InterruptRaised:
    return InterruptRaised(
        run_id=run_id,
        snapshot=SnapshotRef(key=f"runs/{run_id}/snapshots/00000001", version=1, sha256="0" * 64),
        interrupts=[
            PendingInterrupt(
                ref="q1", tool="ask", output_schema=schema, input_schema=schema, restartable=True
            )
        ],
        created_at=datetime.now(UTC),
    )


async def test_schemas_on_the_topics_never_take_the_page_down() -> None:
    """Pauses published before these bounds (or by a worker that skips them) are read again at
    every restart: the page renders, other cards keep their forms, and in bounded time and size."""
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        await _paused(client, "fine-1")
        approvals = service.settings.topics.approvals
        hostile = {
            "loop-1": {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/A"}}},
            "tree-1": SELF_REFERENCING,
            "double-1": doubling(40),
            "odd-1": {"anyOf": [1, "x"], "type": "object", "properties": {"a": 5}, "required": 3},
        }
        for run_id, schema in hostile.items():
            await service.log.publish(approvals, run_id, encode(_raised(run_id, schema)))
        for _ in range(250):
            if all(client.inbox.view.get(r) is not None for r in hostile):  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.02)
        started = time.perf_counter()
        page = await client.get("/")
        took = time.perf_counter() - started
        assert page.status_code == 200
        assert took < 5.0  # about 50 ms here; 6 s before the bounds
        assert len(page.text) < 2_000_000  # 175 MB before the bounds
        for run_id in hostile:
            assert f'id="run-{run_id}"' in page.text
        assert page.text.count("This form cannot be shown") >= 4  # loop and doubling, both forms
        assert 'data-key="toAccountId"' in page.text  # the ordinary card still has its form
        tree = (await client.get("/runs/tree-1/card")).text
        assert 'data-key="again"' in tree  # one level as a form, the recursion as JSON
        assert (await client.get("/runs/double-1/card")).status_code == 200


async def test_a_form_too_big_to_show_is_answered_as_json_in_chromium() -> None:
    """Within the request bounds but past the form's 1000 fields: the card says so, offers one
    JSON box, and an answer typed there completes the run."""
    async with ServiceHarness(asking_app("decide", {"case": 1})) as service:
        topics = service.settings.topics
        inbox = Inbox(view=PendingView(service.log, topics), transport=service.log, topics=topics)
        async with served(inbox) as url, chromium() as browser, httpx.AsyncClient() as http:
            decide = {"name": "decide", "description": "a big decision", "outputSchema": doubling(10)}
            body = {"runId": "big-1", "messages": TRANSFER["messages"], "interrupts": [decide]}
            submitted = await http.post(url.rstrip("/") + "/api/runs", json=body)
            assert submitted.status_code == 202, submitted.text
            assert await inbox.view.wait_for(lambda: bool(inbox.view.pending()), 15)
            page = await browser.new_page()
            await page.goto(url)
            card = page.locator("article.run.pending")
            await expect(card).to_have_count(1, timeout=15_000)
            await expect(card.locator(".output > .form-note")).to_contain_text("This form cannot be shown")
            await card.locator(".output > .field > textarea").fill('{"a": {"b": {}}}')
            await card.locator("button[data-action=respond]").click()
            await expect(page.locator("article.run.completed")).to_have_count(1, timeout=15_000)
        result = await service.result("big-1")
        assert isinstance(result, RunCompleted)
        assert "{'a': {'b': {}}}" in result.text
