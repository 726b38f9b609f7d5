"""Forged ResumeRequested events straight onto a real Kafka topic, read by a real
``intermission worker`` process on real SeaweedFS (issue 17, items 5 and 6, as an attacker with
write access to the resumes topic tries them next): the requester approving under another
spelling, one approver counted twice under two spellings, an approval system's key speaking
for an approver with her own key by changing her name's case, groups claimed without a
signature, and a signed answer replayed onto another run. Each is rejected with its reason, the
pauses stay open, and honest answers then finish the run."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import intermission_schemas as schemas
import msgspec
import pytest
from answer_kit import ed25519_pair
from intermission.service import Topics
from intermission.service.adapters.kafka import ensure_topics
from intermission_producer import AnswerKey, IntermissionClient, build_resume
from intermission_schemas import ApprovalRule, GenerateRequest, InterruptRaised, Message, TextPart
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket
from realservices.worker_env import worker_environment

pytestmark = [pytest.mark.kafka, pytest.mark.s3]

OPS = AnswerKey("ops", b"ops-secret")
APPROVE = {"status": "APPROVED"}


def _env(bootstrap: str, bucket: S3Bucket, topics: Topics, alice_public: str) -> dict[str, str]:
    return {
        **worker_environment(bootstrap, f"forged-{uuid.uuid4().hex[:8]}", bucket),
        "INTERMISSION_TOPIC_REQUESTS": topics.requests,
        "INTERMISSION_TOPIC_APPROVALS": topics.approvals,
        "INTERMISSION_TOPIC_RESUMES": topics.resumes,
        "INTERMISSION_TOPIC_RESULTS": topics.results,
        "INTERMISSION_TOPIC_DEAD_LETTER": topics.dead_letter,
        "INTERMISSION_PREFIX": f"forged-{uuid.uuid4().hex[:8]}/",
        "INTERMISSION_ANSWER_KEYS": "ops=ops-secret",
        "INTERMISSION_APPROVER_KEYS": f"alice={alice_public}",
    }


@contextlib.asynccontextmanager
async def _worker(env: dict[str, str], log: Path) -> Any:
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "intermission.cli", "worker", env=env, stdout=out, stderr=out
        )
        try:
            yield process
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(60):
                await process.wait()


async def _paused(client: IntermissionClient, run_id: str, **fields: Any) -> InterruptRaised:
    await client.submit(
        GenerateRequest(
            run_id=run_id,
            idempotency_key=run_id,
            messages=[Message(role="user", content=[TextPart(text="Transfer $1000")])],
            tools=["transferMoney"],
            **fields,
        )
    )
    async with asyncio.timeout(120), contextlib.aclosing(client.interrupts(from_beginning=True)) as stream:
        async for raised in stream:
            if raised.run_id == run_id:
                return raised
    raise AssertionError("the approvals stream ended")


async def _verdicts(client: IntermissionClient, run_id: str, wanted: set[str]) -> dict[str, str]:
    """Each of the ``wanted`` resume ids' rejection reason, once all are in."""
    async with asyncio.timeout(120):
        while True:
            events = await client.history(run_id, timeout=30)
            found = {e.resume_id: e.reason for e in events if isinstance(e, schemas.ResumeRejected)}
            if wanted <= set(found):
                return {k: v for k, v in found.items() if k in wanted}
            await asyncio.sleep(0.5)


async def _finished(client: IntermissionClient, run_id: str) -> list[Any]:
    async with asyncio.timeout(120):
        while True:
            events = await client.history(run_id, timeout=30)
            if any(isinstance(e, schemas.RunCompleted) for e in events):
                return events
            await asyncio.sleep(0.5)


def _approve(raised: InterruptRaised, who: str, resume_id: str, **options: Any) -> schemas.ResumeRequested:
    restart = {raised.interrupts[0].ref: APPROVE}
    return build_resume(raised, restart=restart, answered_by=who, resume_id=resume_id, **options)


async def test_forged_answers_on_kafka_are_rejected_by_a_worker_process(
    kafka_bootstrap: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    topics = Topics.with_prefix(f"forged-{uuid.uuid4().hex[:8]}-")
    names = [topics.requests, topics.approvals, topics.resumes, topics.results, topics.dead_letter]
    await ensure_topics(kafka_bootstrap, names, 2, 1)
    _, alice_public = ed25519_pair()
    env = _env(kafka_bootstrap, s3_bucket, topics, alice_public)
    client = IntermissionClient(kafka_bootstrap, topics=topics, consumer_options=fast_consumer_kwargs())
    two = ApprovalRule(tool="transferMoney", approvers=["bob", "dave", "@finance"], required=2)
    async with client, _worker(env, tmp_path / "worker.log"):
        target = await _paused(client, "forged-a", requested_by="carol", approval_rules=[two])
        other = await _paused(client, "forged-b", requested_by="carol")
        await client.replay([_approve(target, "bob", "bob-1")])
        signed_for_target = _approve(target, "dave", "dave-signed", signing_key=OPS)
        forged = {
            "self-spelled": _approve(target, "Carol ", "self-spelled"),
            "alice-by-case": _approve(target, "ALICE", "alice-by-case", signing_key=OPS),
            "alice-unsigned": _approve(target, "Alice", "alice-unsigned"),
            "bob-again": _approve(target, "BOB\u200b", "bob-again"),
            "groups-unsigned": _approve(target, "erin", "groups-unsigned", groups=["finance"]),
        }
        replayed = msgspec.structs.replace(
            signed_for_target,
            run_id=other.run_id,
            snapshot_version=other.snapshot.version,
            pause_digest=other.snapshot.sha256,
        )
        await client.replay([*forged.values(), replayed])
        reasons = await _verdicts(client, "forged-a", set(forged))
        assert reasons == {
            "self-spelled": "self_approval",
            "alice-by-case": "key_not_bound",
            "alice-unsigned": "unsigned",
            "bob-again": "already_approved",
            "groups-unsigned": "unauthorized",
        }, reasons
        assert (await _verdicts(client, "forged-b", {"dave-signed"}))["dave-signed"] == "bad_signature"
        await client.replay([signed_for_target])  # the honest second approval
        events = await _finished(client, "forged-a")
        assert [e for e in events if isinstance(e, schemas.RunCompleted)]
        assert not any(
            isinstance(e, schemas.RunCompleted) for e in await client.history("forged-b", timeout=30)
        )
