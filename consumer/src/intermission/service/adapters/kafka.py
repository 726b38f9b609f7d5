"""Kafka behind the transport seam: a durable publisher, a manually committed subscription.

Delivery is at-least-once. A record is committed only after the worker is done with it, so a
crash or a rebalance re-delivers it; every effect downstream must be idempotent.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

# aiokafka ships no type information (no py.typed): its names are Any to mypy.
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    CommitFailedError,
    ConsumerStoppedError,
    IllegalStateError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    for_code,
)
from intermission_producer import KafkaSecurity

from ...errors import LogUnavailableError, RecordTooLargeError, UsageError
from ..ports import Record

__all__ = [
    "DEFAULT_MAX_REQUEST_SIZE",
    "KafkaPublisher",
    "KafkaSecurity",  # the producer SDK's, re-exported: one way to say how to reach the brokers
    "KafkaSubscription",
    "ensure_topics",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024  # aiokafka's and the broker's default (message.max.bytes)
# No linger: aiokafka allows one produce request in flight per broker, so records published
# while one is in flight batch into the next anyway. Measured with bench/service_cycle.py, a 2 ms
# linger added about 3 ms to every hop and lowered throughput at concurrency 64.
_LINGER_MS = 0
# The subscription fixes these: auto-commit would acknowledge records the worker has not
# finished, and read_uncommitted would expose records of aborted transactions.
_FIXED_CONSUMER_OPTIONS = {"enable_auto_commit": False, "isolation_level": "read_committed"}
_RESERVED_CONSUMER_OPTIONS = {"bootstrap_servers", "group_id", "client_id", *_FIXED_CONSUMER_OPTIONS}


@contextlib.contextmanager
def _mapped(what: str, topic: str = "", size: int = 0, limit: int | None = None) -> Iterator[None]:
    """aiokafka's errors, as ours: the one place this adapter translates them."""
    try:
        yield
    except MessageSizeTooLargeError as exc:  # over max_request_size: checked before sending
        raise RecordTooLargeError(topic, size, limit) from exc
    except RecordListTooLargeError as exc:  # the broker's (or topic's) limit is lower
        raise RecordTooLargeError(topic, size, None) from exc
    except KafkaError as exc:
        raise LogUnavailableError(f"{what}: {type(exc).__name__}: {exc}") from exc


class KafkaPublisher:
    """`Publisher` on an idempotent producer with acks=all.

    Idempotence makes the producer's own retries free of duplicates; it says nothing about a
    caller that publishes the same event twice, so consumers still deduplicate by key.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        security: KafkaSecurity | None = None,
        client_id: str = "intermission",
        max_request_size: int = DEFAULT_MAX_REQUEST_SIZE,
        max_batch_size: int | None = None,
        producer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.max_request_size = max_request_size
        # aiokafka keeps one open batch per partition, and a send that finds it full waits until
        # it has been delivered. With its 16 KiB default, concurrent publishes of 2 KB records
        # crawl at ~800/s; batches as large as a request reach ~38 000/s (measured here).
        # The cap is not preallocated, so a large one costs nothing while traffic is light.
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=_LINGER_MS,
            max_request_size=max_request_size,
            max_batch_size=max_batch_size or max_request_size,
            **(producer_options or {}),
            **(security or KafkaSecurity()).options(),
        )

    async def start(self) -> None:
        try:
            with _mapped("starting the producer"):
                await self._producer.start()
        except BaseException:
            # A broker that cannot be reached must not leave a half-open producer behind.
            await self._producer.stop()
            raise

    async def stop(self) -> None:
        """Flushes pending records, then closes; safe to call twice."""
        await self._producer.stop()

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def publish(self, topic: str, key: str, value: bytes) -> None:
        # send() only enqueues and returns a delivery future. Awaiting the two steps apart
        # (rather than send_and_wait) is the same thing, spelled so that it is clear why
        # concurrent publishes share a batch: they all enqueue before the request goes out.
        encoded = key.encode()
        size = len(encoded) + len(value)
        with _mapped(f"publishing to {topic!r}", topic, size, self.max_request_size):
            delivery = await self._producer.send(topic, value=value, key=encoded)
        # Refused at delivery: the broker's message.max.bytes (or the topic's) is lower.
        with _mapped(f"publishing to {topic!r}", topic, size, None):
            await delivery


class KafkaSubscription:
    """`Subscription` on a consumer group, committing one record at a time, explicitly.

    ``consumer_options`` passes tuning through to `AIOKafkaConsumer` (session_timeout_ms,
    heartbeat_interval_ms, max_poll_interval_ms, fetch_max_wait_ms, ...); tests use it for fast
    group joins. Options that would break at-least-once delivery are refused.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        topics: Sequence[str],
        group_id: str,
        *,
        security: KafkaSecurity | None = None,
        client_id: str = "intermission",
        consumer_options: Mapping[str, Any] | None = None,
    ) -> None:
        options = dict(consumer_options or {})
        reserved = _RESERVED_CONSUMER_OPTIONS & options.keys()
        if reserved:
            raise UsageError(f"consumer_options may not set {sorted(reserved)}: the subscription fixes them")
        self._topics = list(topics)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers,
            group_id=group_id,
            client_id=client_id,
            **{"auto_offset_reset": "earliest", **options, **_FIXED_CONSUMER_OPTIONS},
            **(security or KafkaSecurity()).options(),
        )

    async def start(self) -> None:
        self._consumer.subscribe(self._topics)
        try:
            with _mapped("joining the consumer group"):
                await self._consumer.start()
        except BaseException:
            await self._consumer.stop()
            raise

    async def close(self) -> None:
        """Leaves the group (its partitions move at once) and ends `records()`."""
        await self._consumer.stop()

    async def __aenter__(self) -> KafkaSubscription:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def assignment(self) -> frozenset[tuple[str, int]]:
        """(topic, partition) pairs this member holds now; every rebalance may change them."""
        return frozenset((tp.topic, tp.partition) for tp in self._consumer.assignment())

    async def records(self) -> AsyncIterator[Record]:
        # The consumer's own iterator ends cleanly when the consumer is stopped while it waits;
        # creating it raises instead if close() came first.
        try:
            messages = aiter(self._consumer)
        except ConsumerStoppedError:
            return
        async for message in messages:
            yield Record(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value if message.value is not None else b"",
            )

    async def commit(self, record: Record) -> None:
        partition = TopicPartition(record.topic, record.partition)
        try:
            await self._consumer.commit({partition: record.offset + 1})
        except (IllegalStateError, CommitFailedError) as exc:
            # The partition moved to another member in a rebalance (IllegalStateError: no longer
            # assigned here; CommitFailedError: the group moved on while committing). Its new
            # owner re-reads from the last commit, so the record is delivered again: dropping
            # this commit costs a duplicate, never a loss. Crashing the loop would cost more.
            log.warning(
                "commit of %s[%d]@%d dropped after a rebalance: %s",
                record.topic,
                record.partition,
                record.offset,
                exc,
            )


async def ensure_topics(
    bootstrap_servers: str,
    topics: Sequence[str],
    partitions: int,
    replication: int,
    security: KafkaSecurity | None = None,
    *,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create the topics that do not exist yet; existing ones are left exactly as they are.

    ``configs`` are topic-level settings for new topics (e.g. ``max.message.bytes``).
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **(security or KafkaSecurity()).options()
    )
    with _mapped("creating topics"):
        await admin.start()
        try:
            new = [NewTopic(t, partitions, replication, topic_configs=dict(configs or {})) for t in topics]
            response = await admin.create_topics(new)
        finally:
            await admin.close()
    # Errors come back per topic in the response, not as exceptions.
    for topic, code, *message in response.topic_errors:
        error = for_code(code)
        if code != 0 and error is not TopicAlreadyExistsError:
            detail = message[0] if message else ""
            raise LogUnavailableError(f"creating topic {topic!r}: {error.__name__}: {detail}")
