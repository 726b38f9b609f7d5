"""Stateless resume across processes: the worker that resumes never saw the run before."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest
from harness import Harness
from intermission_schemas import RestartAnswer, ResumeRequested, RunCompleted

TESTS_DIR = Path(__file__).resolve().parent.parent

_WORKER = """
import asyncio, os, sys
from realservices.kafka import fast_consumer_kwargs
from intermission.service import Settings
from intermission.service.wiring.serve import run_worker
asyncio.run(run_worker(Settings.load(os.environ), consumer_options=fast_consumer_kwargs()))
"""


@pytest.mark.parametrize("backend", ["real"], indirect=True)
async def test_a_worker_in_another_process_resumes_the_pause(harness: Harness) -> None:
    first = await harness.start_worker()
    run_id = f"run-{uuid.uuid4().hex[:10]}"
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    await first.stop()

    backend = harness.backend
    topics = backend.topics
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR / "service"), str(TESTS_DIR)]),
        "INTERMISSION_APP": "service_app:ai",
        "INTERMISSION_BOOTSTRAP_SERVERS": backend.bootstrap,  # type: ignore[attr-defined]
        "INTERMISSION_GROUP_ID": harness.group,
        "INTERMISSION_TOPIC_REQUESTS": topics.requests,
        "INTERMISSION_TOPIC_APPROVALS": topics.approvals,
        "INTERMISSION_TOPIC_RESUMES": topics.resumes,
        "INTERMISSION_TOPIC_RESULTS": topics.results,
        "INTERMISSION_TOPIC_DEAD_LETTER": topics.dead_letter,
        "INTERMISSION_BUCKET": backend.bucket.name,  # type: ignore[attr-defined]
        "INTERMISSION_PREFIX": "it/",
        "INTERMISSION_S3_ENDPOINT_URL": backend.bucket.endpoint_url,  # type: ignore[attr-defined]
        "INTERMISSION_S3_REGION": backend.bucket.region,  # type: ignore[attr-defined]
        "AWS_ACCESS_KEY_ID": backend.bucket.access_key,  # type: ignore[attr-defined]
        "AWS_SECRET_ACCESS_KEY": backend.bucket.secret_key,  # type: ignore[attr-defined]
        "INTERMISSION_SNAPSHOT_KEY": "test-key",
        "INTERMISSION_HEALTH_PORT": "0",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _WORKER, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        resume = ResumeRequested(
            run_id=run_id,
            resume_id="from-elsewhere",
            snapshot_version=1,
            restart=[RestartAnswer(ref=raised.interrupts[0].ref, resumed={"status": "APPROVED"})],
            answered_by="alice",
        )
        await harness.send(topics.resumes, run_id, resume)
        done = await harness.result(run_id, RunCompleted)
    finally:
        worker.terminate()
        _, stderr = await worker.communicate()
    assert "COMPLETED" in done.text, stderr.decode()[-2000:]
