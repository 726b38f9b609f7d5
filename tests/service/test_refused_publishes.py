"""A publish Kafka refuses for what it is (issue 17, item 7) is the record's outcome, not an
outage: the record is dead-lettered, and the worker moves on.

On a broker of the test's own that creates no topic on use (as most production clusters): a
request whose replyTo names a legal topic that does not exist, and one whose result is too large
for its reply topic. Before, the first was retried forever as an outage: it never got an
outcome, readiness stayed down, and every record behind it waited.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from harness import Backend, Harness, RealBackend
from intermission.errors import UnpublishableError
from intermission.service import Publisher, Topics
from intermission.service.adapters.kafka import ensure_topics
from intermission.service.ports import Headers
from intermission_schemas import RunCompleted
from realservices import KafkaService
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket
from service_app import build

PROMPT_MARGIN_S = 60.0  # generous: the refusal itself takes a few seconds of metadata requests


class Refusing:
    """A publisher that refuses some topics, as brokers refuse a missing one."""

    def __init__(self, inner: Publisher, refused: set[str]) -> None:
        self.inner = inner
        self.refused = refused

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        if topic in self.refused:
            raise UnpublishableError(topic, "unknown_topic", f"publishing to {topic!r}: no such topic")
        await self.inner.publish(topic, key, value, headers)


async def test_a_refused_reply_is_a_dead_letter_in_memory_too(tmp_path: Path) -> None:
    backend = Backend(tmp_path, Topics.with_prefix(""))
    ai, _ = build()
    harness = Harness(backend, ai)
    await harness.watch()
    worker = await harness.start_worker(publisher=Refusing(backend.publisher, {"nowhere"}))
    try:
        await harness.submit("to-nowhere", "hello", reply_to="nowhere")
        await harness.submit("after", "plain text")
        # Within the test's own margin, not the harness's default: the first publishes to a
        # broker started for this test can wait on its partition leaders under a busy machine.
        await harness.result("after", RunCompleted, within=PROMPT_MARGIN_S)
        await harness.wait_for(lambda: harness.dead_letters)
        [letter] = harness.dead_letters
        assert (letter.key, letter.reason) == (b"to-nowhere", "unpublishable")
        assert worker.worker.health.healthy
    finally:
        await worker.stop()
        await harness.close()


@pytest.mark.kafka
@pytest.mark.s3
async def test_refused_reply_topics_are_dead_lettered_and_later_runs_complete(
    strict_kafka: KafkaService, s3_bucket: S3Bucket
) -> None:
    prefix = f"refused-{uuid.uuid4().hex[:8]}-"
    bootstrap = strict_kafka.bootstrap_servers
    backend = RealBackend(bootstrap, s3_bucket, Topics.with_prefix(prefix), fast_consumer_kwargs())
    await backend.start()
    small_replies = f"{prefix}small-replies"
    await ensure_topics(bootstrap, [small_replies], 1, 1, configs={"max.message.bytes": "2048"})
    ai, _ = build()
    harness = Harness(backend, ai)
    await harness.watch()
    worker = await harness.start_worker()
    try:
        started = time.monotonic()
        await harness.submit("to-nowhere", "hello", reply_to=f"{prefix}no-such-topic")
        await harness.submit("too-big", "x" * 6000, reply_to=small_replies)
        await harness.submit("after", "plain text")

        # Within the test's own margin, not the harness's default: the first publishes to a
        # broker started for this test can wait on its partition leaders under a busy machine.
        await harness.result("after", RunCompleted, within=PROMPT_MARGIN_S)
        await harness.wait_for(lambda: len(harness.dead_letters) >= 2, within=PROMPT_MARGIN_S)
        elapsed = time.monotonic() - started

        reasons = {letter.key: letter.reason for letter in harness.dead_letters}
        assert reasons == {b"to-nowhere": "unpublishable", b"too-big": "oversized"}, harness.dead_letters
        nowhere = next(d for d in harness.dead_letters if d.key == b"to-nowhere")
        assert "no-such-topic" in nowhere.detail
        assert worker.worker.health.healthy, "a refused record is not an outage"
        assert elapsed < PROMPT_MARGIN_S

        # Nothing holds the partition: a valid run submitted now completes promptly too.
        again = time.monotonic()
        await harness.submit("later", "plain text")
        await harness.result("later", RunCompleted, within=PROMPT_MARGIN_S)
        assert time.monotonic() - again < PROMPT_MARGIN_S
    finally:
        await worker.stop()
        await harness.close()
