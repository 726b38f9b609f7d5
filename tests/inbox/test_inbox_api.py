"""The inbox's HTTP API, end to end against the production worker on the in-process log.

Every endpoint; bad bodies get a clear 4xx and publish nothing; answers are checked as the
producer SDK checks them; tokens are single-use and expire with their pause.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from inbox_kit import TOKEN_SECRET, TRANSFER, inbox_client
from inbox_kit import paused as _paused
from intermission.inbox.identity import TrustedProxyHeader, parse_networks
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_schemas import ExpiryPolicy, GenerateRequest, Message, TextPart
from pydantic import SecretStr

# The ASGI client's peer is 127.0.0.1: the proxy.
PROXY = TrustedProxyHeader("X-Forwarded-User", parse_networks("127.0.0.1"))
SETTINGS = Settings(resume_token_secret=SecretStr(TOKEN_SECRET))


def _published(service: ServiceHarness) -> dict[str, int]:
    topics = service.settings.topics
    return {t: len(service.log.topics[t]) for t in (topics.requests, topics.resumes)}


async def test_submit_list_get_and_approve_with_replaced_input() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        run = await _paused(client, "api-1")
        pending = (await client.get("/api/pending")).json()["pending"]
        assert [p["runId"] for p in pending] == ["api-1"]
        [interrupt] = pending[0]["interrupts"]
        assert interrupt["tool"] == "transferMoney"
        assert interrupt["restartable"]
        assert interrupt["token"]
        one = (await client.get("/api/runs/api-1/pending")).json()
        assert one["snapshot"]["version"] == run["pending"]["snapshot"]["version"] == 1

        reply = await client.post(
            "/api/runs/api-1/answers?wait=5",
            json={
                "restart": {interrupt["ref"]: {"status": "APPROVED"}},
                "replaceInput": {interrupt["ref"]: {"toAccountId": "XYZ9", "amount": 500}},
            },
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["outcome"] == "accepted"
        result = await service.result("api-1")
        assert "XYZ9" in result.text
        state = (await client.get("/api/runs/api-1")).json()
        assert state["status"] == "completed"
        assert state["result"]["type"] == "RunCompleted"
        assert (await client.get("/api/pending")).json() == {"pending": []}
        assert (await client.get("/api/runs/api-1/pending")).status_code == 404
        page = (await client.get("/")).text
        assert "api-1" in page
        assert "completed" in page


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "not_json"),
        (b'{"respond": 5}', 422, "invalid_body"),
        (b'{"unknownField": 1}', 422, "invalid_body"),
        (b"{}", 400, "bad_request"),  # no answer at all
        (b'{"respond": {"nope": 1}}', 422, "unknown_ref"),
        (
            b'{"restart": {"REF": {}}, "replaceInput": {"REF": {"toAccountId": "A", "amount": "5"}}}',
            422,
            "invalid_input",
        ),
        (b'{"respond": {"REF": {"status": 7}}}', 422, "invalid_output"),
        (b'{"snapshotVersion": 9, "respond": {"REF": {"status": "x"}}}', 409, "stale"),
    ],
)
async def test_bad_answers_are_refused_and_nothing_is_published(
    body: bytes, status: int, reason: str
) -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        run = await _paused(client, "bad-1")
        ref = run["pending"]["interrupts"][0]["ref"]
        before = _published(service)
        reply = await client.post(
            "/api/runs/bad-1/answers",
            content=body.replace(b"REF", ref.encode()),
            headers={"content-type": "application/json"},
        )
        assert reply.status_code == status, reply.text
        assert reply.json()["reason"] == reason
        assert reply.json()["detail"]
        if reason == "invalid_input":
            assert reply.json()["field"] == "amount"
        assert _published(service) == before
        assert (await client.get("/api/runs/bad-1")).json()["status"] == "pending"


async def test_bad_requests_are_refused_and_nothing_is_published() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        before = _published(service)
        for body, status in [
            (b"[]", 422),
            (b"nope", 400),
            (b'{"messages": 3}', 422),
            (b'{"tools": ["noSuchTool"], "messages": []}', 422),
            (b'{"runId": "bad id with spaces"}', 422),
        ]:
            reply = await client.post("/api/runs", content=body, headers={"content-type": "application/json"})
            assert reply.status_code == status, (body, reply.text)
            assert reply.json()["detail"]
        assert _published(service) == before
        assert (await client.get("/api/runs/nothing")).status_code == 404
        assert (await client.post("/api/runs/nothing/answers", json={"respond": {"a": 1}})).status_code == 404


async def test_rejected_answer_reports_the_workers_reason() -> None:
    """The worker is the authority: approvers outside the request's list are rejected by it,
    and the inbox reports the ResumeRejected's reason."""
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        run = await _paused(client, "auth-1", {**TRANSFER, "approvers": ["alice"]})
        ref = run["pending"]["interrupts"][0]["ref"]
        reply = await client.post(
            "/api/runs/auth-1/answers?wait=5", json={"restart": {ref: {"status": "APPROVED"}}}
        )
        assert reply.status_code == 200
        assert reply.json()["outcome"] == "rejected"
        assert reply.json()["reason"] == "unauthorized"
        state = (await client.get("/api/runs/auth-1")).json()
        assert state["status"] == "pending"
        assert state["rejections"][0]["reason"] == "unauthorized"
        assert "rejected (unauthorized)" in (await client.get("/runs/auth-1/card")).text


async def test_identity_comes_from_the_trusted_header() -> None:
    async with (
        ServiceHarness(demo.ai, settings=SETTINGS) as service,
        inbox_client(service, authenticator=PROXY) as client,
    ):
        client.headers["X-Forwarded-User"] = "bob"  # starts the run and reads it
        run = await _paused(client, "hdr-1", {**TRANSFER, "approvers": ["alice"]})
        del client.headers["X-Forwarded-User"]
        ref = run["pending"]["interrupts"][0]["ref"]
        body = {"restart": {ref: {"status": "APPROVED"}}}
        assert (await client.post("/api/runs/hdr-1/answers", json=body)).status_code == 401
        reply = await client.post(
            "/api/runs/hdr-1/answers?wait=5", json=body, headers={"X-Forwarded-User": "alice"}
        )
        assert reply.json()["outcome"] == "accepted"
        assert (await service.result("hdr-1")).text


async def test_partial_answers_by_two_approvers() -> None:
    async with (
        ServiceHarness(_two_question_app(), settings=SETTINGS) as service,
        inbox_client(service) as client,
    ):
        run = await _paused(client, "part-1", {"messages": TRANSFER["messages"], "tools": ["ask"]})
        refs = [i["ref"] for i in run["pending"]["interrupts"]]
        assert len(refs) == 2
        first = await client.post("/api/runs/part-1/answers?wait=5", json={"respond": {refs[0]: "Saturday"}})
        assert first.json()["outcome"] == "accepted"
        state = (await client.get("/api/runs/part-1")).json()
        assert state["status"] == "pending"
        assert state["pending"]["open"] == [refs[1]]
        again = await client.post("/api/runs/part-1/answers", json={"respond": {refs[0]: "Sunday"}})
        assert again.status_code == 409
        assert again.json()["reason"] == "duplicate"
        second = await client.post("/api/runs/part-1/answers?wait=5", json={"respond": {refs[1]: "noon"}})
        assert second.json()["outcome"] == "accepted"
        assert "Saturday" in (await service.result("part-1")).text


def _two_question_app() -> Any:
    from intermission import Intermission, ScriptedModel
    from intermission._scripted import reply, tool_call

    def turn(request: Any) -> Message:
        if request.messages[-1].role == "tool":
            return reply(f"answers: {[p.tool_response.output for p in request.messages[-1].content]}")
        return reply(tool_call("ask", {"q": "day?"}), tool_call("ask", {"q": "time?"}))

    ai = Intermission(model=ScriptedModel(turn))
    ai.define_interrupt(name="ask", description="ask a person", input_schema=dict, output_schema=str)
    return ai


async def test_token_answers_once_and_second_use_is_refused() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        run = await _paused(client, "tok-1")
        token = run["pending"]["interrupts"][0]["token"]
        assert (await client.post("/api/answer/forged.token", json={"resumed": {}})).status_code == 403
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert (await client.post(f"/api/answer/{tampered}", json={"resumed": {}})).status_code == 403
        bad = await client.post(f"/api/answer/{token}", json={"output": {"status": 5}})
        assert bad.status_code == 422
        assert bad.json()["reason"] == "invalid_output"
        assert (await client.post(f"/api/answer/{token}", json={})).status_code == 400
        first = await client.post(f"/api/answer/{token}?wait=5", json={"resumed": {"status": "APPROVED"}})
        assert first.status_code == 200, first.text
        assert first.json()["outcome"] == "accepted"
        second = await client.post(f"/api/answer/{token}", json={"resumed": {"status": "REJECTED"}})
        assert second.status_code == 409
        assert second.json()["reason"] == "used"
        result = await service.result("tok-1")
        assert "COMPLETED" in result.text
        resumes = service.log.topics[service.settings.topics.resumes]
        assert len(resumes) == 1


async def test_two_concurrent_uses_of_one_token_resume_once() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        run = await _paused(client, "tok-2")
        token = run["pending"]["interrupts"][0]["token"]
        replies = await asyncio.gather(
            *(client.post(f"/api/answer/{token}", json={"resumed": {"status": "APPROVED"}}) for _ in range(3))
        )
        assert sorted(r.status_code for r in replies)[0] in (200, 202)
        assert sum(r.status_code < 300 for r in replies) == 1
        assert "COMPLETED" in (await service.result("tok-2")).text


async def test_expired_token_is_refused() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        request = GenerateRequest(
            run_id="tok-exp",
            idempotency_key="tok-exp",
            messages=[Message(role="user", content=[TextPart(text="transfer")])],
            tools=["transferMoney"],
            expiry=ExpiryPolicy(after_seconds=1.0),
        )
        await service.client.submit(request)
        raised = await service.interrupt("tok-exp")
        token = raised.interrupts[0].token
        assert token is not None
        await asyncio.sleep(1.3)
        reply = await client.post(f"/api/answer/{token}", json={"resumed": {"status": "APPROVED"}})
        assert reply.status_code == 410
        assert reply.json()["reason"] == "expired"
        state = (await client.get("/api/runs/tok-exp")).json()
        assert state["status"] == "expired"
        assert len(service.log.topics[service.settings.topics.resumes]) == 0


async def test_token_of_a_finished_pause_is_refused() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        run = await _paused(client, "tok-3")
        interrupt = run["pending"]["interrupts"][0]
        ok = await client.post(
            "/api/runs/tok-3/answers?wait=5", json={"restart": {interrupt["ref"]: {"status": "APPROVED"}}}
        )
        assert ok.json()["outcome"] == "accepted"
        await service.result("tok-3")
        late = await client.post(
            f"/api/answer/{interrupt['token']}", json={"resumed": {"status": "APPROVED"}}
        )
        assert late.status_code == 410


async def test_openapi_document_and_event_stream() -> None:
    """/api/events over a real server (uvicorn): a new run is announced as it happens."""
    from intermission.inbox.app import build_app
    from intermission.inbox.serve import serve_app

    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        doc = (await client.get("/api/openapi.json")).json()
        assert doc["openapi"].startswith("3.1")
        assert set(doc["paths"]) >= {
            "/api/pending",
            "/api/runs",
            "/api/runs/{run_id}",
            "/api/runs/{run_id}/pending",
            "/api/runs/{run_id}/answers",
            "/api/answer/{token}",
            "/api/events",
        }
        assert "GenerateRequest" in doc["components"]["schemas"]
        stop = asyncio.Event()
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        app = build_app(client.inbox, own_view=False)  # type: ignore[attr-defined]
        serving = asyncio.create_task(
            serve_app(app, host="127.0.0.1", port=0, on_ready=ready.set_result, stop=stop)
        )
        try:
            url = await asyncio.wait_for(ready, 30)
            async with (
                httpx.AsyncClient(base_url=url, timeout=10) as http,
                http.stream("GET", "/api/events") as events,
            ):
                assert events.headers["content-type"].startswith("text/event-stream")
                lines = events.aiter_lines()
                assert await anext(lines) == ": live"
                await http.post("/api/runs", json={**TRANSFER, "runId": "sse-1"})
                async with asyncio.timeout(10):
                    async for line in lines:
                        if line.startswith("data:"):
                            assert line == 'data: {"runId":"sse-1"}'
                            break
        finally:
            stop.set()
            await asyncio.wait_for(serving, 15)


async def test_the_inbox_signs_when_the_workers_require_signed_answers() -> None:
    from intermission_producer import AnswerKey

    settings = Settings(
        resume_token_secret=SecretStr(TOKEN_SECRET),
        answer_keys=SecretStr("inbox=inbox-secret"),
        require_signed_answers=True,
    )
    async with ServiceHarness(demo.ai, settings=settings) as service:
        async with inbox_client(service) as unsigned:
            run = await _paused(unsigned, "signed-1")
            ref = run["pending"]["interrupts"][0]["ref"]
            refused = await unsigned.post(
                "/api/runs/signed-1/answers?wait=5", json={"restart": {ref: {"status": "APPROVED"}}}
            )
            assert refused.json()["outcome"] == "rejected"
            assert refused.json()["reason"] == "unsigned"
        async with inbox_client(service, signing_key=AnswerKey("inbox", b"inbox-secret")) as signing:
            reply = await signing.post(
                "/api/runs/signed-1/answers?wait=5", json={"restart": {ref: {"status": "APPROVED"}}}
            )
            assert reply.json()["outcome"] == "accepted"
            assert "COMPLETED" in (await service.result("signed-1")).text


async def test_several_inboxes_agree_and_a_restarted_inbox_rebuilds_the_view() -> None:
    """The view is folded from the topics, so two inboxes on one log show the same pending list,
    an answer sent through one is seen by the other, and an inbox started afterwards (a restart)
    rebuilds the same state from the beginning of the topics."""
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service:
        async with inbox_client(service) as first, inbox_client(service) as second:
            await _paused(first, "multi-1")
            await _paused(first, "multi-2")
            assert (await first.get("/api/pending")).json() == (await second.get("/api/pending")).json()
            ref = (await second.get("/api/runs/multi-1")).json()["pending"]["interrupts"][0]["ref"]
            sent = await second.post(
                "/api/runs/multi-1/answers?wait=5", json={"restart": {ref: APPROVE_BODY}}
            )
            assert sent.json()["outcome"] == "accepted"
            await service.result("multi-1")
            for client in (first, second):
                for _ in range(100):
                    if (await client.get("/api/runs/multi-1")).json()["status"] == "completed":
                        break
                    await asyncio.sleep(0.02)
                pending = (await client.get("/api/pending")).json()["pending"]
                assert [p["runId"] for p in pending] == ["multi-2"]
            again = await first.post("/api/runs/multi-1/answers", json={"restart": {ref: APPROVE_BODY}})
            assert again.status_code == 409
        async with inbox_client(service) as restarted:
            assert [p["runId"] for p in (await restarted.get("/api/pending")).json()["pending"]] == [
                "multi-2"
            ]
            assert (await restarted.get("/api/runs/multi-1")).json()["status"] == "completed"


APPROVE_BODY = {"status": "APPROVED"}


async def test_a_dead_lettered_request_shows_as_failed_with_the_reason() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service, inbox_client(service) as client:
        bad = b'{"type": "GenerateRequest", "runId": "dl-1", "idempotencyKey": ""}'
        await service.log.publish(service.settings.topics.requests, "dl-1", bad)
        for _ in range(200):
            reply = await client.get("/api/runs/dl-1")
            if reply.status_code == 200 and reply.json()["status"] == "failed":
                break
            await asyncio.sleep(0.02)
        state = reply.json()
        assert state["status"] == "failed"
        assert state["deadLetters"][0]["reason"] == "invalid_fields"
        assert "dead-lettered (invalid_fields)" in (await client.get("/runs/dl-1/card")).text
