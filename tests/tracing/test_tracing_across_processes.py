"""Done-when of the tracing work: one trace id from the producer's submit through the pause,
the answer and the result, across two worker processes on real Kafka and SeaweedFS.

The first worker takes the request, pauses the run and stops; the second, which never saw the
run, takes the answer and produces the result. Each worker process records its spans into a
file (tests/tracing/tracing_worker.py); this process records the producer's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from intermission.service import Topics
from intermission.service.adapters.kafka import ensure_topics
from intermission_producer import IntermissionClient, InterruptRaised, RunCompleted
from intermission_schemas import GenerateRequest, Message, TextPart
from realservices.kafka import fast_consumer_kwargs
from recorded_spans import RecordedSpan, ancestors, named, one, read_span_file
from span_recording import Spans

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent

pytestmark = [pytest.mark.kafka, pytest.mark.s3]


def worker_env(bootstrap: str, bucket: Any, topics: Topics, group: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), str(TESTS)]),
        "INTERMISSION_APP": "tracing_app:ai",
        "INTERMISSION_BOOTSTRAP_SERVERS": bootstrap,
        "INTERMISSION_GROUP_ID": group,
        "INTERMISSION_TOPIC_REQUESTS": topics.requests,
        "INTERMISSION_TOPIC_APPROVALS": topics.approvals,
        "INTERMISSION_TOPIC_RESUMES": topics.resumes,
        "INTERMISSION_TOPIC_RESULTS": topics.results,
        "INTERMISSION_TOPIC_DEAD_LETTER": topics.dead_letter,
        "INTERMISSION_BUCKET": bucket.name,
        "INTERMISSION_PREFIX": "traced/",
        "INTERMISSION_S3_ENDPOINT_URL": bucket.endpoint_url,
        "INTERMISSION_S3_REGION": bucket.region,
        "AWS_ACCESS_KEY_ID": bucket.access_key,
        "AWS_SECRET_ACCESS_KEY": bucket.secret_key,
    }


class WorkerProcess:
    def __init__(self, env: dict[str, str], spans_file: Path) -> None:
        self.env, self.spans_file = env, spans_file
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(HERE / "tracing_worker.py"),
            str(self.spans_file),
            env=self.env,
            stderr=asyncio.subprocess.PIPE,
        )

    async def stop(self) -> str:
        """SIGTERM, as a rollout stops a worker; returns what it wrote to stderr."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            _, stderr = await self.process.communicate()
        return stderr.decode(errors="replace")[-3000:]

    def spans(self) -> list[RecordedSpan]:
        return read_span_file(self.spans_file)


async def first_interrupt(client: IntermissionClient, run_id: str) -> InterruptRaised:
    async with contextlib.aclosing(client.interrupts(from_beginning=True)) as stream:
        async for raised in stream:
            if raised.run_id == run_id:
                return raised
    raise AssertionError("the approvals stream ended")


async def completion(client: IntermissionClient, run_id: str) -> RunCompleted:
    while True:
        for event in await client.history(run_id, timeout=30):
            if isinstance(event, RunCompleted):
                return event
        await asyncio.sleep(0.5)


async def test_one_trace_from_submit_to_result_across_two_worker_processes(
    spans: Spans, kafka_bootstrap: str, s3_bucket: Any, tmp_path: Path
) -> None:
    topics = Topics.with_prefix(f"traced-{uuid.uuid4().hex[:8]}-")
    names = [topics.requests, topics.approvals, topics.resumes, topics.results, topics.dead_letter]
    await ensure_topics(kafka_bootstrap, names, 2, 1)
    env = worker_env(kafka_bootstrap, s3_bucket, topics, f"traced-{uuid.uuid4().hex[:8]}")
    first = WorkerProcess(env, tmp_path / "first.jsonl")
    second = WorkerProcess(env, tmp_path / "second.jsonl")
    run_id = f"traced-{uuid.uuid4().hex[:10]}"
    request = GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        messages=[Message(role="user", content=[TextPart(text="transfer")])],
        tools=["transferMoney"],
    )
    client = IntermissionClient(kafka_bootstrap, topics=topics, consumer_options=fast_consumer_kwargs())
    async with client:
        await first.start()
        try:
            await client.submit(request)
            async with asyncio.timeout(120):
                raised = await first_interrupt(client, run_id)
        finally:
            first_log = await first.stop()  # the first worker is gone before the answer is sent
        await second.start()
        try:
            await client.restart(
                raised, {raised.interrupts[0].ref: {"status": "APPROVED"}}, answered_by="alice"
            )
            async with asyncio.timeout(120):
                done = await completion(client, run_id)
        finally:
            second_log = await second.stop()
    assert "COMPLETED" in done.text, second_log

    producer, in_first, in_second = spans.finished(), first.spans(), second.spans()
    every = producer + in_first + in_second
    assert in_first, first_log
    assert in_second, second_log
    assert len({span.trace_id for span in every}) == 1, sorted({(s.trace_id, s.name) for s in every})

    submit = one(producer, f"send {topics.requests}")
    assert submit.parent_id is None
    handled = one(in_first, f"process {topics.requests}")
    assert handled.parent_id == submit.span_id
    assert one(in_first, f"send {topics.approvals}").parent_id == handled.span_id
    assert raised.trace_context is not None
    assert raised.trace_context.traceparent.split("-")[2] == handled.span_id

    answer = one(producer, f"send {topics.resumes}")
    assert answer.parent_id == handled.span_id
    answer_handled = one(in_second, f"process {topics.resumes}")
    assert answer_handled.parent_id == answer.span_id
    resumed = one(in_second, "resume run")
    assert resumed.parent_id == handled.span_id
    assert resumed.links == (answer_handled.span_id,)
    result = one(in_second, f"send {topics.results}")
    assert ancestors(result, every)[:3] == [
        "resume run",
        f"process {topics.requests}",
        f"send {topics.requests}",
    ]

    # The model and the tool ran in each worker, and every store write is in the trace.
    assert [len(named(in_first, "chat")), len(named(in_second, "chat"))] == [1, 1]
    assert len(named(in_first + in_second, "execute_tool transferMoney")) == 2
    assert named(in_first, "store create")
    assert named(in_second, "store create")
    assert not [span.name for span in every if span.status == "ERROR"]
