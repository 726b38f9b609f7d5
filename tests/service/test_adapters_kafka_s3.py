"""The production adapters against a real Kafka broker and a real S3 server (SeaweedFS)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from intermission.errors import RecordTooLargeError, StoreUnavailableError, UsageError
from intermission.service import PreconditionFailed, Record
from intermission.service.adapters.kafka import (
    KafkaPublisher,
    KafkaSubscription,
    ensure_topics,
)
from intermission.service.adapters.s3 import S3SnapshotStore
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket
from store_contract import CONTRACT, Check

_WAIT_S = 30.0


# --- S3 -------------------------------------------------------------------------------------------


def _store(where: S3Bucket, prefix: str = "intermission/", **overrides: Any) -> S3SnapshotStore:
    options: dict[str, Any] = {
        "bucket": where.name,
        "prefix": prefix,
        "endpoint_url": where.endpoint_url,
        "region": where.region,
        "access_key": where.access_key,
        "secret_key": where.secret_key,
        **overrides,
    }
    return S3SnapshotStore(**options)


@pytest.fixture
def s3_store(s3_bucket: S3Bucket) -> Iterator[S3SnapshotStore]:
    store = _store(s3_bucket)
    yield store
    store.close()


@pytest.mark.s3
@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
async def test_store_contract(check: Check, s3_store: S3SnapshotStore) -> None:
    await check(s3_store)


@pytest.mark.s3
@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
async def test_store_contract_through_obstore(check: Check, s3_bucket: S3Bucket) -> None:
    from intermission.service.adapters.obstore import ObstoreSnapshotStore

    await check(
        ObstoreSnapshotStore(
            s3_bucket.name,
            "intermission/",
            endpoint_url=s3_bucket.endpoint_url,
            region=s3_bucket.region,
            access_key=s3_bucket.access_key,
            secret_key=s3_bucket.secret_key,
        )
    )


@pytest.mark.s3
async def test_obstore_tells_a_missing_bucket(s3_bucket: S3Bucket) -> None:
    from intermission.service.adapters.obstore import ObstoreSnapshotStore

    def store(bucket: str) -> ObstoreSnapshotStore:
        return ObstoreSnapshotStore(
            bucket,
            endpoint_url=s3_bucket.endpoint_url,
            region=s3_bucket.region,
            access_key=s3_bucket.access_key,
            secret_key=s3_bucket.secret_key,
        )

    assert await store(s3_bucket.name).bucket_exists()
    assert not await store(s3_bucket.name + "-missing").bucket_exists()


@pytest.mark.s3
async def test_prefix_is_prepended_and_stripped(s3_bucket: S3Bucket) -> None:
    with _store(s3_bucket, "tenant-a/") as a, _store(s3_bucket, "tenant-b/") as b:
        # Same relative key in two stores: two objects, neither store sees the other's.
        await a.create("runs/r/result", b"a")
        await b.create("runs/r/result", b"b")
        assert await a.list("") == ["runs/r/result"]
        got = await b.get("runs/r/result")
        assert got is not None
        assert got.data == b"b"
    listed = s3_bucket.client().list_objects_v2(Bucket=s3_bucket.name)
    assert sorted(item["Key"] for item in listed["Contents"]) == [
        "tenant-a/runs/r/result",
        "tenant-b/runs/r/result",
    ]


@pytest.mark.s3
async def test_list_follows_pagination(s3_store: S3SnapshotStore) -> None:
    # list_objects_v2 returns at most 1000 keys per page.
    keys = [f"runs/many/snapshots/{i:08d}" for i in range(1050)]
    await asyncio.gather(*(s3_store.create(key, b".") for key in keys))
    assert await s3_store.list("runs/many/") == keys


@pytest.mark.s3
async def test_missing_bucket_is_unavailable_until_ensured(s3_bucket: S3Bucket) -> None:
    with _store(s3_bucket, bucket=f"{s3_bucket.name}-new") as store:
        # NoSuchBucket is a broken deployment, not an absent snapshot: it must not read as None.
        # (Only reads are checked: SeaweedFS creates a missing bucket on PUT, AWS does not.)
        with pytest.raises(StoreUnavailableError):
            await store.get("k")
        with pytest.raises(StoreUnavailableError):
            await store.list("")
        await store.ensure_bucket()
        await store.ensure_bucket()  # a bucket we own already is fine
        await store.create("k", b"v")


@pytest.mark.s3
async def test_wrong_credentials_are_unavailable_not_missing(s3_bucket: S3Bucket) -> None:
    with _store(s3_bucket, secret_key="not-the-secret") as store:
        with pytest.raises(StoreUnavailableError):
            await store.get("k")
        with pytest.raises(StoreUnavailableError):
            await store.create("k", b"v")


def _stubbed(store: S3SnapshotStore) -> Stubber:
    return Stubber(store._client)


async def test_409_conflicts_are_retried_then_reported_as_lost() -> None:
    # No real server answers 409 on demand, so a stub drives the retry path.
    store = S3SnapshotStore("b", endpoint_url="http://127.0.0.1:9", access_key="x", secret_key="y")
    with store, _stubbed(store) as stub:
        for _ in range(2):
            stub.add_client_error("put_object", "ConditionalRequestConflict", http_status_code=409)
        stub.add_response("put_object", {"ETag": '"abc"'})
        assert await store.replace("k", b"v", '"old"') == '"abc"'
        for _ in range(4):
            stub.add_client_error("put_object", "ConditionalRequestConflict", http_status_code=409)
        with pytest.raises(PreconditionFailed):
            await store.create("k", b"v")
        stub.add_client_error("put_object", "InternalError", http_status_code=500)
        with pytest.raises(StoreUnavailableError):
            await store.create("k", b"v")


# --- Kafka ----------------------------------------------------------------------------------------


async def _take(subscription: KafkaSubscription, count: int) -> list[Record]:
    taken: list[Record] = []
    async with asyncio.timeout(_WAIT_S):
        async for record in subscription.records():
            taken.append(record)
            if len(taken) == count:
                break
    return taken


def _subscription(bootstrap: str, topics: list[str], group: str) -> KafkaSubscription:
    return KafkaSubscription(bootstrap, topics, group, consumer_options=fast_consumer_kwargs())


@pytest.mark.kafka
async def test_publish_consume_commit_and_resume_after_the_commit(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic, group = f"{kafka_topic_prefix}requests", f"{kafka_topic_prefix}workers"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication=1)
    async with KafkaPublisher(kafka_bootstrap) as publisher:
        for i in range(5):
            await publisher.publish(topic, f"run-{i}", f"v{i}".encode())

    async with _subscription(kafka_bootstrap, [topic], group) as first:
        got = await _take(first, 5)
        assert [(r.key, r.value) for r in got] == [(f"run-{i}".encode(), f"v{i}".encode()) for i in range(5)]
        assert [r.offset for r in got] == [0, 1, 2, 3, 4]
        await first.commit(got[2])  # done with offsets 0..2; 3 and 4 were read, not finished

    # A crash or a redeploy: the group's next member starts after the commit.
    async with _subscription(kafka_bootstrap, [topic], group) as second:
        assert [r.offset for r in await _take(second, 2)] == [3, 4]


@pytest.mark.kafka
async def test_close_ends_a_waiting_iteration(kafka_bootstrap: str, kafka_topic_prefix: str) -> None:
    topic = f"{kafka_topic_prefix}quiet"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication=1)
    subscription = _subscription(kafka_bootstrap, [topic], f"{kafka_topic_prefix}g")
    await subscription.start()
    seen: list[Record] = []
    reader = asyncio.create_task(_collect(subscription, seen))
    await _until(lambda: len(subscription.assignment()) == 1)
    await asyncio.sleep(0.3)  # the reader is now blocked waiting for a fetch
    await subscription.close()
    async with asyncio.timeout(5):
        await reader  # ends by itself: no cancellation needed to stop a worker
    assert seen == []


@pytest.mark.kafka
async def test_oversized_value_raises_a_typed_error_at_once(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = f"{kafka_topic_prefix}big"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication=1)
    async with KafkaPublisher(kafka_bootstrap, max_request_size=64 * 1024) as publisher:
        async with asyncio.timeout(5):
            with pytest.raises(RecordTooLargeError) as raised:
                await publisher.publish(topic, "k", b"x" * 65 * 1024)
        assert raised.value.limit == 64 * 1024
        await publisher.publish(topic, "k", b"fits")  # the producer is still usable


@pytest.mark.kafka
async def test_value_over_the_broker_limit_raises_the_same_error(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = f"{kafka_topic_prefix}big"
    await ensure_topics(kafka_bootstrap, [topic], partitions=1, replication=1)
    # The client allows 4 MiB; the broker keeps its default 1 MiB message.max.bytes.
    async with KafkaPublisher(kafka_bootstrap, max_request_size=4 * 1024 * 1024) as publisher:
        async with asyncio.timeout(_WAIT_S):
            with pytest.raises(RecordTooLargeError) as raised:
                await publisher.publish(topic, "k", b"x" * 2 * 1024 * 1024)
            assert raised.value.limit is None
            await publisher.publish(topic, "k", b"fits")


@pytest.mark.kafka
async def test_concurrent_publishes_all_arrive_in_order_per_key(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = f"{kafka_topic_prefix}fanin"
    await ensure_topics(kafka_bootstrap, [topic], partitions=3, replication=1)
    async with KafkaPublisher(kafka_bootstrap) as publisher:
        for step in range(4):  # each step's publishes race; steps follow each other
            await asyncio.gather(
                *(publisher.publish(topic, f"run-{r}", f"{step}".encode()) for r in range(50))
            )
    async with _subscription(kafka_bootstrap, [topic], f"{kafka_topic_prefix}g") as subscription:
        got = await _take(subscription, 200)
    by_key: dict[bytes | None, list[bytes]] = {}
    for record in got:
        by_key.setdefault(record.key, []).append(record.value)
    assert len(by_key) == 50
    assert all(values == [b"0", b"1", b"2", b"3"] for values in by_key.values())


@pytest.mark.kafka
async def test_commit_for_a_partition_lost_in_a_rebalance_is_dropped_and_redelivered(
    kafka_bootstrap: str, kafka_topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    topic, group = f"{kafka_topic_prefix}requests", f"{kafka_topic_prefix}workers"
    await ensure_topics(kafka_bootstrap, [topic], partitions=2, replication=1)
    async with KafkaPublisher(kafka_bootstrap) as publisher:
        for i in range(20):
            await publisher.publish(topic, f"run-{i}", f"v{i}".encode())

    async with _subscription(kafka_bootstrap, [topic], group) as first:
        read_by_first = await _take(first, 20)  # alone in the group: both partitions
        async with _subscription(kafka_bootstrap, [topic], group) as second:
            seen: list[Record] = []
            reader = asyncio.create_task(_collect(second, seen))  # joins the group, reads on
            await _until(lambda: len(first.assignment()) == 1)
            (kept,) = first.assignment()
            with caplog.at_level(logging.WARNING, logger="intermission.service.adapters.kafka"):
                for record in read_by_first:  # must neither raise nor stop at a lost partition
                    await first.commit(record)
            lost = {(r.partition, r.offset) for r in read_by_first if (r.topic, r.partition) != kept}
            dropped = [r for r in caplog.records if r.name == "intermission.service.adapters.kafka"]
            assert len(dropped) == len(lost) > 0
            # The new owner starts where nobody committed: it reads every lost record again.
            await _until(lambda: lost <= {(r.partition, r.offset) for r in seen})
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(_WAIT_S):
        while not condition():  # noqa: ASYNC110 - group assignment changes signal no event to wait on
            await asyncio.sleep(0.05)


async def _collect(subscription: KafkaSubscription, into: list[Record]) -> None:
    async for record in subscription.records():
        into.append(record)


@pytest.mark.kafka
async def test_ensure_topics_leaves_existing_topics_and_reports_real_errors(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    topic = f"{kafka_topic_prefix}t"
    await ensure_topics(kafka_bootstrap, [topic], partitions=2, replication=1)
    await ensure_topics(kafka_bootstrap, [topic], partitions=5, replication=1)  # exists: no change
    async with _subscription(kafka_bootstrap, [topic], f"{kafka_topic_prefix}g") as subscription:
        await _until(lambda: len(subscription.assignment()) == 2)
    with pytest.raises(Exception, match=r"(?i)replication"):
        # One broker cannot hold three replicas: the error must surface, not be swallowed.
        await ensure_topics(kafka_bootstrap, [f"{kafka_topic_prefix}r3"], partitions=1, replication=3)


def test_options_that_break_at_least_once_are_refused() -> None:
    with pytest.raises(UsageError, match="enable_auto_commit"):
        KafkaSubscription("127.0.0.1:9", ["t"], "g", consumer_options={"enable_auto_commit": True})
