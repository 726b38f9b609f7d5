"""Every service behaviour runs twice: on the in-memory backend and on real Kafka + SeaweedFS."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import Backend, Harness, RealBackend
from intermission.service import Topics
from realservices.kafka import fast_consumer_kwargs
from service_app import build


@pytest.fixture(params=["memory", pytest.param("real", marks=[pytest.mark.kafka, pytest.mark.s3])])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        yield Backend(tmp_path, Topics.with_prefix(""))
        return
    # Requested here, not in the signature, so the memory runs never start the real services.
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    bucket = request.getfixturevalue("s3_bucket")
    topics = Topics.with_prefix(f"svc-{uuid.uuid4().hex[:8]}-")
    real = RealBackend(bootstrap, bucket, topics, fast_consumer_kwargs())
    await real.start()
    yield real


@pytest.fixture
async def harness(backend: Backend) -> AsyncIterator[Harness]:
    ai, _ = build()
    h = Harness(backend, ai)
    await h.watch()
    try:
        yield h
    finally:
        await h.close()
