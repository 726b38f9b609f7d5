"""Resume tokens at their edges: bytes that are not ASCII, and a token whose answer the worker
rejected (the pause stays open, so the token still answers it)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from inbox_kit import TOKEN_SECRET, inbox_client
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_producer import AnswerKey
from pydantic import SecretStr

TRANSFER = {
    "messages": [{"role": "user", "content": [{"text": "Transfer $1000"}]}],
    "tools": ["transferMoney"],
}


async def _token(client: httpx.AsyncClient, run_id: str) -> str:
    reply = await client.post("/api/runs", json={**TRANSFER, "runId": run_id})
    assert reply.status_code == 202, reply.text
    for _ in range(500):
        got = await client.get(f"/api/runs/{run_id}")
        if got.status_code == 200 and got.json()["status"] == "pending":
            token: str = got.json()["pending"]["interrupts"][0]["token"]
            return token
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} never paused")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + "é",  # the MAC
        lambda t: "é" + t,  # the body
        lambda t: t.replace(".", ".ключ.", 1),  # a key id
        lambda t: t + ".\u2603.x",  # too many parts
    ],
)
async def test_a_token_with_non_ascii_bytes_is_forbidden_not_an_error(mangle: Any) -> None:
    settings = Settings(resume_token_secret=SecretStr(TOKEN_SECRET))
    async with ServiceHarness(demo.ai, settings=settings) as service, inbox_client(service) as client:
        token = await _token(client, "ascii-1")
        reply = await client.post(f"/api/answer/{mangle(token)}", json={"resumed": {"status": "APPROVED"}})
        assert reply.status_code == 403, reply.text
        assert reply.json()["reason"] == "invalid_token"


async def test_a_token_whose_answer_was_rejected_answers_again() -> None:
    # The workers require signatures; the first inbox cannot sign, so the worker rejects its
    # answer and the pause stays open. The token is not spent: once an inbox signs, it answers.
    settings = Settings(
        resume_token_secret=SecretStr(TOKEN_SECRET),
        answer_keys=SecretStr("inbox=inbox-secret"),
        require_signed_answers=True,
    )
    approve = {"resumed": {"status": "APPROVED"}}
    async with ServiceHarness(demo.ai, settings=settings) as service:
        async with inbox_client(service) as unsigned:
            token = await _token(unsigned, "reject-1")
            refused = await unsigned.post(f"/api/answer/{token}?wait=5", json=approve)
            assert refused.status_code == 200, refused.text
            assert refused.json()["outcome"] == "rejected"
            assert refused.json()["reason"] == "unsigned"
        async with inbox_client(service, signing_key=AnswerKey("inbox", b"inbox-secret")) as signing:
            await signing.inbox.view.wait_for(  # type: ignore[attr-defined]
                lambda: bool(signing.inbox.view.get("reject-1").rejections),  # type: ignore[attr-defined]
                5,
            )
            again = await signing.post(f"/api/answer/{token}?wait=5", json=approve)
            assert again.status_code == 200, again.text
            assert again.json()["outcome"] == "accepted"  # this try's verdict, not the first's
            used = await signing.post(f"/api/answer/{token}", json=approve)
            assert used.status_code in (409, 410), used.text
        assert "COMPLETED" in (await service.result("reject-1")).text


async def test_tokens_across_a_rotation_of_the_token_secret() -> None:
    # Minted under the single secret of earlier releases; redeemed at inboxes whose ring added a
    # new current secret (accepted), then retired the old one (403, the pause stays open).
    settings = Settings(resume_token_secret=SecretStr(TOKEN_SECRET))
    approve = {"resumed": {"status": "APPROVED"}}
    async with ServiceHarness(demo.ai, settings=settings) as service:
        async with inbox_client(service) as old:
            kept, dropped = await _token(old, "rot-kept"), await _token(old, "rot-dropped")
        service.settings = Settings(resume_token_secrets=SecretStr(f"t2=new-secret,legacy={TOKEN_SECRET}"))
        async with inbox_client(service) as rotated:
            reply = await rotated.post(f"/api/answer/{kept}?wait=5", json=approve)
            assert reply.status_code == 200, reply.text
            assert reply.json()["outcome"] == "accepted"
        service.settings = Settings(resume_token_secrets=SecretStr("t2=new-secret"))
        async with inbox_client(service) as retired:
            refused = await retired.post(f"/api/answer/{dropped}", json=approve)
            assert refused.status_code == 403, refused.text
            assert refused.json()["reason"] == "invalid_token"
            assert (await retired.get("/api/runs/rot-dropped")).json()["status"] == "pending"
