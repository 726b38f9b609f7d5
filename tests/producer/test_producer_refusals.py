"""The SDK's producer tells a record the brokers refuse from an outage (issue 17, item 7): a
refusal is a `RecordRefusedError` with its reason, at once, and the producer goes on working."""

from __future__ import annotations

import uuid

import pytest
from intermission.service.adapters.kafka import ensure_topics
from intermission_producer import KafkaProducer, RecordRefusedError, RefusalReason

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("not a topic!", "invalid_topic"),  # characters Kafka does not allow
        ("..", "invalid_topic"),
        ("x" * 250, "invalid_topic"),  # over 249 characters
        ("__consumer_offsets", "invalid_topic"),  # internal: no client may write it
    ],
)
async def test_a_topic_the_brokers_refuse_is_refused_not_an_outage(
    kafka_bootstrap: str, kafka_topic_prefix: str, topic: str, reason: RefusalReason
) -> None:
    valid = f"{kafka_topic_prefix}-ok"
    await ensure_topics(kafka_bootstrap, [valid], 1, 1)
    async with KafkaProducer(kafka_bootstrap, delivery_timeout=30.0) as producer:
        with pytest.raises(RecordRefusedError) as refused:
            await producer.publish(topic, "k", b"{}")
        assert (refused.value.reason, refused.value.topic, refused.value.retriable) == (reason, topic, False)

        await producer.publish(valid, "k", b"{}")  # the producer still works
        assert producer.replacements == 0


async def test_a_record_over_the_topics_limit_is_refused(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    small = f"{kafka_topic_prefix}-small-{uuid.uuid4().hex[:6]}"
    await ensure_topics(kafka_bootstrap, [small], 1, 1, configs={"max.message.bytes": "2048"})
    async with KafkaProducer(kafka_bootstrap, delivery_timeout=30.0) as producer:
        with pytest.raises(RecordRefusedError) as refused:
            await producer.publish(small, "k", b"x" * 8000)
        assert refused.value.reason == "too_large"
        assert refused.value.limit is None  # the broker's limit, not the producer's
        with pytest.raises(RecordRefusedError) as refused:
            await producer.publish(small, "k", b"x" * (2 * 1024 * 1024))
        assert (refused.value.reason, refused.value.limit) == ("too_large", 1024 * 1024)
        await producer.publish(small, "k", b"x" * 100)
