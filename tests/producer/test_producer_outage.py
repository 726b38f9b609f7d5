"""The SDK's producer survives broker outages with batches in flight (issue 21, item 2).

The SDK kept one idempotent aiokafka producer for its lifetime and waited on a delivery for as
long as it took: a publish during an outage answered nothing until the broker was back, and a
producer broken by a fatal error (OutOfOrderSequenceNumber after an outage) stayed broken. Its
`KafkaProducer` (the one every part publishes through) gives up on a delivery after
``delivery_timeout`` with a retriable BrokerError and replaces the producer it no longer trusts,
so publishing resumes once the broker is back.

A broker of the test's own is killed (SIGKILL: unacknowledged batches are in flight) while
publishers run, and restarted: first on its data, then with its log lost (a replaced disk).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from intermission.service.adapters.kafka import ensure_topics
from intermission_producer import BrokerError, KafkaTransport, RecordRefusedError
from realservices import KafkaService

pytestmark = pytest.mark.kafka

OUTAGE_S = 20.0
RECOVERY_S = 90.0  # after the broker is back, how long publishing may take to get through again
PUBLISHERS = 16
RETRY_S = 0.5
TOPIC = "sdk-outage"


@dataclass
class Publishing:
    """Publishers that each publish new records one after another, every record retried until
    it is acknowledged, as an SDK caller does with a retriable BrokerError."""

    transport: KafkaTransport
    delivered: set[str] = field(default_factory=set)
    failures: list[BrokerError] = field(default_factory=list)
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    running: bool = True
    count: int = 0

    async def run(self) -> None:
        while self.running:
            key = f"k-{self.count}"
            self.count += 1
            await self._until_delivered(key)

    async def _until_delivered(self, key: str) -> None:
        while True:
            try:
                await self.transport.publish(TOPIC, key, key.encode() * 200)
            except BrokerError as exc:
                self.failures.append(exc)
                await asyncio.sleep(RETRY_S)
            else:
                async with self.changed:
                    self.delivered.add(key)
                    self.changed.notify_all()
                return

    async def until(self, predicate: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within), self.changed:
            await self.changed.wait_for(predicate)


async def _outage(broker: KafkaService, publishing: Publishing, *, lose_data: bool) -> float:
    """Kill the broker with publishes in flight, bring it back; seconds until publishing
    flowed again (every publisher through at least ten more records)."""
    await asyncio.to_thread(broker.kill)
    await asyncio.sleep(OUTAGE_S)
    took = await asyncio.to_thread(broker.restart, lose_data=lose_data)
    back = time.monotonic()
    if lose_data:  # the topic went with the log
        await ensure_topics(broker.bootstrap_servers, [TOPIC], 2, 1)
    print(f"broker back after {OUTAGE_S + took:.1f} s{' without its log' if lose_data else ''}")
    wanted = len(publishing.delivered) + 10 * PUBLISHERS
    await publishing.until(lambda: len(publishing.delivered) >= wanted, within=RECOVERY_S)
    return time.monotonic() - back


async def test_publishing_resumes_after_outages_with_batches_in_flight(outage_kafka: KafkaService) -> None:
    bootstrap = outage_kafka.bootstrap_servers
    await ensure_topics(bootstrap, [TOPIC], 2, 1)
    async with KafkaTransport(bootstrap) as transport:
        publishing = Publishing(transport)
        tasks = [asyncio.create_task(publishing.run()) for _ in range(PUBLISHERS)]
        try:
            await publishing.until(lambda: len(publishing.delivered) >= 200, within=30)
            plain = await _outage(outage_kafka, publishing, lose_data=False)
            acknowledged = set(publishing.delivered)
            async with (
                KafkaTransport(bootstrap) as reader,
                reader.read([TOPIC], start="beginning", until_end=True) as records,
            ):
                found = {record.key.decode() async for record in records if record.key is not None}

            lost_log = await _outage(outage_kafka, publishing, lose_data=True)
        finally:
            publishing.running = False
            async with asyncio.timeout(RECOVERY_S):
                await asyncio.gather(*tasks)
        replacements = transport.producer.replacements
    print(
        f"publishing flowed again {plain:.1f} s after a plain outage and {lost_log:.1f} s after "
        f"one that lost the log; {len(publishing.failures)} failed publishes, "
        f"{replacements} producer replacement(s)"
    )

    missing = acknowledged - found
    assert not missing, f"{len(missing)} acknowledged records are not in the topic"
    refused = [f for f in publishing.failures if isinstance(f, RecordRefusedError) or not f.retriable]
    assert not refused, f"an outage is never a refusal of the record: {refused[:3]}"
    assert sorted(publishing.delivered) == sorted(f"k-{n}" for n in range(publishing.count))


async def test_a_delivery_that_outlasts_its_timeout_is_retriable_and_replaces_the_producer(
    outage_kafka: KafkaService,
) -> None:
    bootstrap = outage_kafka.bootstrap_servers
    await ensure_topics(bootstrap, [TOPIC], 2, 1)
    delivery_timeout = 5.0
    async with KafkaTransport(bootstrap, delivery_timeout=delivery_timeout) as transport:
        await transport.publish(TOPIC, "before", b"x")
        await asyncio.to_thread(outage_kafka.kill)
        started = time.monotonic()
        in_flight = [asyncio.create_task(transport.publish(TOPIC, f"during-{n}", b"x")) for n in range(20)]
        # Before, these waited for the broker's return however long it took, answering nothing.
        async with asyncio.timeout(delivery_timeout + 30):
            outcomes = await asyncio.gather(*in_flight, return_exceptions=True)
        answered = time.monotonic() - started
        assert all(isinstance(o, BrokerError) and o.retriable for o in outcomes), outcomes
        assert not any(isinstance(o, RecordRefusedError) for o in outcomes)
        assert answered < delivery_timeout + 15, f"the publishes answered after {answered:.1f} s"

        await asyncio.to_thread(outage_kafka.restart)
        async with asyncio.timeout(RECOVERY_S):
            while True:
                try:
                    await transport.publish(TOPIC, "after", b"x")
                    break
                except BrokerError as exc:
                    if not exc.retriable:
                        raise
                    await asyncio.sleep(RETRY_S)
        assert transport.producer.replacements == 1, "the producer that gave up was not replaced"
