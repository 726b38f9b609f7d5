"""The log seam's contract (log_contract.py) on MemoryLog and on real Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from intermission.service import Subscription
from intermission.service.adapters.kafka import KafkaPublisher, KafkaSubscription, ensure_topics
from intermission.service.adapters.local import MemoryLog
from log_contract import CONTRACT, Check, LogUnderTest
from realservices.kafka import fast_consumer_kwargs

_PARTITIONS = 3  # more than one, so that order per key is not order per topic by accident


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
async def log(request: pytest.FixtureRequest) -> AsyncIterator[LogUnderTest]:
    if request.param == "memory":
        memory = MemoryLog()

        async def memory_subscription(topics: Sequence[str], group: str) -> Subscription:
            return memory.subscribe(topics, group)

        under_test = LogUnderTest(memory, memory_subscription, "a", "b")
        yield under_test
        await under_test.close_all()
        return
    # Requested here, not in the signature, so the memory runs never start Kafka.
    bootstrap: str = request.getfixturevalue("kafka_bootstrap")
    prefix: str = request.getfixturevalue("kafka_topic_prefix")
    a, b = f"{prefix}a", f"{prefix}b"
    await ensure_topics(bootstrap, [a, b], _PARTITIONS, 1)

    async def kafka_subscription(topics: Sequence[str], group: str) -> Subscription:
        subscription = KafkaSubscription(
            bootstrap, topics, f"{prefix}{group}", consumer_options=fast_consumer_kwargs()
        )
        await subscription.start()
        return subscription

    async with KafkaPublisher(bootstrap) as publisher:
        under_test = LogUnderTest(publisher, kafka_subscription, a, b)
        try:
            yield under_test
        finally:
            await under_test.close_all()


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
async def test_log_contract(check: Check, log: LogUnderTest) -> None:
    await check(log)
