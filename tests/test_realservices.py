"""Smoke tests for the real services the suite runs against (see tests/realservices/)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from botocore.exceptions import ClientError
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket

_READ_TIMEOUT_S = 30.0


async def _read_until(bootstrap: str, topic: str, last: bytes, **consumer_kwargs: Any) -> list[bytes]:
    """Every value on `topic` up to and including `last`, in order."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, **{**fast_consumer_kwargs(), **consumer_kwargs}
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(_READ_TIMEOUT_S):
            while last not in values:
                record = await consumer.getone()
                assert record.value is not None
                values.append(record.value)
    finally:
        await consumer.stop()
    return values


@pytest.mark.kafka
async def test_kafka_produce_and_consume_in_a_group(kafka_bootstrap: str, kafka_topic_prefix: str) -> None:
    topic = f"{kafka_topic_prefix}roundtrip"
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k1")
    finally:
        await producer.stop()

    values = await _read_until(kafka_bootstrap, topic, b"hello", group_id=f"{kafka_topic_prefix}group")

    assert values == [b"hello"]


@pytest.mark.kafka
async def test_kafka_read_committed_hides_aborted_transactions(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = f"{kafka_topic_prefix}txn"
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"{kafka_topic_prefix}producer"
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-1")
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"committed-2")
    finally:
        await producer.stop()

    committed = await _read_until(kafka_bootstrap, topic, b"committed-2", isolation_level="read_committed")
    everything = await _read_until(kafka_bootstrap, topic, b"committed-2", isolation_level="read_uncommitted")

    assert committed == [b"committed-1", b"committed-2"]
    # The aborted record really reached the log: read_committed hid it, nothing else did.
    assert everything == [b"committed-1", b"aborted", b"committed-2"]


@pytest.mark.s3
def test_s3_put_and_get(s3_bucket: S3Bucket) -> None:
    s3 = s3_bucket.client()
    body = bytes(range(256)) * 80  # 20 KB, binary

    s3.put_object(Bucket=s3_bucket.name, Key="dir/object.bin", Body=body)

    assert s3.get_object(Bucket=s3_bucket.name, Key="dir/object.bin")["Body"].read() == body


def _status(error: ClientError) -> int | None:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


@pytest.mark.s3
def test_s3_if_none_match_creates_only_once(s3_bucket: S3Bucket) -> None:
    s3 = s3_bucket.client()
    s3.put_object(Bucket=s3_bucket.name, Key="once", Body=b"first", IfNoneMatch="*")

    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=s3_bucket.name, Key="once", Body=b"second", IfNoneMatch="*")

    assert _status(raised.value) == 412
    assert raised.value.response.get("Error", {}).get("Code") == "PreconditionFailed"
    assert s3.get_object(Bucket=s3_bucket.name, Key="once")["Body"].read() == b"first"


@pytest.mark.s3
def test_s3_if_match_replaces_only_an_unchanged_object(s3_bucket: S3Bucket) -> None:
    s3 = s3_bucket.client()
    first_etag = s3.put_object(Bucket=s3_bucket.name, Key="doc", Body=b"v1")["ETag"]

    second_etag = s3.put_object(Bucket=s3_bucket.name, Key="doc", Body=b"v2", IfMatch=first_etag)["ETag"]
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=s3_bucket.name, Key="doc", Body=b"v3", IfMatch=first_etag)

    assert second_etag != first_etag
    assert _status(raised.value) == 412
    assert s3.get_object(Bucket=s3_bucket.name, Key="doc")["Body"].read() == b"v2"
