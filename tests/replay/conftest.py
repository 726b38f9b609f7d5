"""Replay tools against real Kafka and SeaweedFS, with the service tests' harness."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "service"))

from harness import Harness, RealBackend
from intermission.service import Topics
from intermission_schemas import RespondAnswer, ResumeRequested
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket

TOOLS = ["lookupPrice", "askQuestion", "sendEmail"]


async def answer(harness: Harness, run_id: str, output: Any, by: str, version: int = 1) -> None:
    """A person answers the run's pause ``version``."""
    raised = await harness.approval(run_id, version)
    await harness.send(
        harness.backend.topics.resumes,
        run_id,
        ResumeRequested(
            run_id=run_id,
            resume_id=f"{run_id}-{version}",
            snapshot_version=version,
            respond=[RespondAnswer(ref=raised.interrupts[0].ref, output=output)],
            answered_by=by,
        ),
    )


def topics(prefix: str) -> Topics:
    return Topics.with_prefix(prefix)


@pytest.fixture
async def real(kafka_bootstrap: str, s3_bucket: S3Bucket) -> AsyncIterator[RealBackend]:
    backend = RealBackend(
        kafka_bootstrap, s3_bucket, topics(f"rp-{uuid.uuid4().hex[:8]}-"), fast_consumer_kwargs()
    )
    await backend.start()
    try:
        yield backend
    finally:
        await backend.close()


@pytest.fixture
async def harness(real: RealBackend) -> AsyncIterator[Harness]:
    from replay_app import ai

    h = Harness(real, ai)
    await h.watch()
    try:
        yield h
    finally:
        await h.close()


def cli_env(bucket: S3Bucket, kafka: str, t: Topics, prefix: str = "it/") -> dict[str, str]:
    """The environment a CLI command needs for this test's bucket, prefix and topics."""
    return {
        "INTERMISSION_BUCKET": bucket.name,
        "INTERMISSION_PREFIX": prefix,
        "INTERMISSION_S3_ENDPOINT_URL": bucket.endpoint_url,
        "INTERMISSION_S3_REGION": bucket.region,
        "AWS_ACCESS_KEY_ID": bucket.access_key,
        "AWS_SECRET_ACCESS_KEY": bucket.secret_key,
        "INTERMISSION_SEAL_KEY": "test-key",
        "INTERMISSION_BOOTSTRAP_SERVERS": kafka,
        "INTERMISSION_TOPIC_REQUESTS": t.requests,
        "INTERMISSION_TOPIC_APPROVALS": t.approvals,
        "INTERMISSION_TOPIC_RESUMES": t.resumes,
        "INTERMISSION_TOPIC_RESULTS": t.results,
        "INTERMISSION_TOPIC_DEAD_LETTER": t.dead_letter,
        "INTERMISSION_APP": "replay_app:ai",
    }
