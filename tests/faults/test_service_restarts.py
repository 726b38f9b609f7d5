"""The outage fixtures themselves: a service taken down comes back on the same data and ports."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from realservices import KafkaService, S3Service
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket


async def _produce(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()


async def _read(bootstrap: str, topic: str, count: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **fast_consumer_kwargs())
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(values) < count:
                values.append((await consumer.getone()).value)
    finally:
        await consumer.stop()
    return values


@pytest.mark.kafka
@pytest.mark.parametrize("how", ["kill", "stop_for_outage"])
async def test_a_broker_comes_back_with_its_records(outage_kafka: KafkaService, how: str) -> None:
    bootstrap = outage_kafka.bootstrap_servers
    await _produce(bootstrap, "before", b"kept")

    down = getattr(outage_kafka, how)()
    assert not outage_kafka.running
    up = await asyncio.to_thread(outage_kafka.restart)
    print(f"broker {how} took {down:.2f} s, restart {up:.2f} s")

    assert outage_kafka.running
    assert outage_kafka.bootstrap_servers == bootstrap
    await _produce(bootstrap, "before", b"after")
    assert await _read(bootstrap, "before", 2) == [b"kept", b"after"]


@pytest.mark.s3
@pytest.mark.parametrize("graceful", [False, True])
def test_seaweedfs_comes_back_with_its_objects(
    outage_s3: S3Service, outage_s3_bucket: S3Bucket, graceful: bool
) -> None:
    s3 = outage_s3_bucket.client()
    s3.put_object(Bucket=outage_s3_bucket.name, Key="before", Body=b"kept")
    endpoint = outage_s3.endpoint_url

    down = outage_s3.stop_for_outage(graceful=graceful)
    assert not outage_s3.running
    up = outage_s3.restart()
    print(f"SeaweedFS stop (graceful={graceful}) took {down:.2f} s, restart {up:.2f} s")

    assert outage_s3.endpoint_url == endpoint
    assert s3.get_object(Bucket=outage_s3_bucket.name, Key="before")["Body"].read() == b"kept"
    s3.put_object(Bucket=outage_s3_bucket.name, Key="after", Body=b"new")


@pytest.mark.kafka
def test_a_shared_or_external_broker_cannot_be_restarted() -> None:
    external = KafkaService(bootstrap_servers="127.0.0.1:1", source="env")
    with pytest.raises(Exception, match="only a broker this suite started"):
        external.kill()
