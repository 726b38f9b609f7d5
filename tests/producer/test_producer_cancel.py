"""A cancelled publish ends: the caller's cancel is never lost (CI hung on this).

Python 3.11's ``asyncio.wait_for`` returns the awaited result when a cancel arrives in the same
step as that result, and the cancelled task carries on. The SDK awaited deliveries that way, so
a task publishing in a loop, cancelled just as a delivery was acknowledged, published for ever:
`tests/service/test_transport_contract.py` hung CI for 90 minutes in its teardown. A worker being
shut down would have been kept alive the same way.

The first test makes the race certain with a stand-in for aiokafka's producer (the delivery is
acknowledged and the publisher cancelled in one step); the second cancels real publishes to a
real broker at many moments, as the contract test did.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import pytest
from intermission.service.adapters.kafka import ensure_topics
from intermission_producer import KafkaProducer, KafkaTransport
from intermission_producer import _producer as producer_module
from standin_producer import StandInProducer


class _AcknowledgedOnCue(StandInProducer):
    """Each delivery future is handed to the test, which acknowledges it when it chooses."""

    deliveries: asyncio.Queue[asyncio.Future[Any]]

    async def send(self, topic: str, **record: Any) -> asyncio.Future[Any]:
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await type(self).deliveries.put(delivery)
        return delivery


async def test_a_cancel_arriving_with_the_acknowledgement_is_not_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _AcknowledgedOnCue.deliveries = asyncio.Queue()
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", _AcknowledgedOnCue)
    async with KafkaProducer("stand-in:9092") as producer:
        publishing = asyncio.create_task(producer.publish("t", "k", b"v"))
        delivery = await _AcknowledgedOnCue.deliveries.get()
        await asyncio.sleep(0)  # the publisher now awaits the delivery
        delivery.set_result(None)
        publishing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await publishing


@pytest.mark.kafka
async def test_publishers_cancelled_at_any_moment_stop(kafka_bootstrap: str, kafka_topic_prefix: str) -> None:
    topic = f"{kafka_topic_prefix}cancelled"
    await ensure_topics(kafka_bootstrap, [topic], 3, 1)
    rng = random.Random(7)
    async with KafkaTransport(kafka_bootstrap) as transport:
        await transport.publish(topic, "warm", b"up")  # metadata known: the race is at delivery

        async def publish_for_ever(key: str) -> None:
            while True:
                await transport.publish(topic, key, b"x")

        for attempt in range(60):
            publisher = asyncio.create_task(publish_for_ever(f"k{attempt}"))
            await asyncio.sleep(rng.uniform(0.0, 0.02))
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                async with asyncio.timeout(10):
                    await publisher
            assert publisher.cancelled(), f"attempt {attempt}: the cancelled publisher carried on"
