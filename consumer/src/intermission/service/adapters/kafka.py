"""Kafka behind the transport seam: a durable publisher, a manually committed subscription.

Delivery is at-least-once. A record is committed only after the worker is done with it, so a
crash or a rebalance re-delivers it; every effect downstream must be idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import msgspec

# aiokafka ships no type information (no py.typed): its names are Any to mypy.
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.abc import ConsumerRebalanceListener  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from aiokafka.admin.config_resource import (  # type: ignore[import-untyped]
    ConfigResource,
    ConfigResourceType,
)
from aiokafka.errors import (  # type: ignore[import-untyped]
    CommitFailedError,
    ConsumerStoppedError,
    IllegalStateError,
    InvalidProducerEpoch,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    UnknownProducerId,
    for_code,
)
from intermission_producer import KafkaSecurity

from ...errors import LogUnavailableError, RecordTooLargeError, UsageError
from ..ports import Headers, Record

__all__ = [
    "DEFAULT_MAX_REQUEST_SIZE",
    "KafkaPublisher",
    "KafkaSecurity",  # the producer SDK's, re-exported: one way to say how to reach the brokers
    "KafkaSubscription",
    "TopicInfo",
    "describe_topics",
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

    After a fatal producer error (an idempotent producer that lost its sequence after a long
    outage answers OutOfOrderSequenceNumber to everything from then on) or a delivery that
    does not finish in time, the producer is replaced by a new one before anything else is
    sent; the failed publish raises LogUnavailableError, so the caller tries it again.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        security: KafkaSecurity | None = None,
        client_id: str = "intermission",
        max_request_size: int = DEFAULT_MAX_REQUEST_SIZE,
        max_batch_size: int | None = None,
        delivery_timeout: float = 120.0,
        producer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.max_request_size = max_request_size
        self.delivery_timeout = delivery_timeout
        # aiokafka keeps one open batch per partition, and a send that finds it full waits until
        # it has been delivered. With its 16 KiB default, concurrent publishes of 2 KB records
        # crawl at ~800/s; batches as large as a request reach ~38 000/s (measured here).
        # The cap is not preallocated, so a large one costs nothing while traffic is light.
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id,
            "enable_idempotence": True,
            "acks": "all",
            "linger_ms": _LINGER_MS,
            "max_request_size": max_request_size,
            "max_batch_size": max_batch_size or max_request_size,
            **(producer_options or {}),
            **(security or KafkaSecurity()).options(),
        }
        self._producer = AIOKafkaProducer(**self._options)
        self._broken = False
        self._replacing = asyncio.Lock()
        self._retired: set[asyncio.Task[None]] = set()
        self.replacements = 0  # how many times a broken producer was replaced

    async def start(self) -> None:
        await self._start(self._producer)

    @staticmethod
    async def _start(producer: AIOKafkaProducer) -> None:
        try:
            with _mapped("starting the producer"):
                await producer.start()
        except BaseException:
            # A broker that cannot be reached must not leave a half-open producer behind.
            await producer.stop()
            raise

    async def stop(self) -> None:
        """Flushes pending records, then closes; safe to call twice."""
        await self._producer.stop()
        await asyncio.gather(*self._retired, return_exceptions=True)

    async def __aenter__(self) -> KafkaPublisher:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        # send() only enqueues and returns a delivery future. Awaiting the two steps apart
        # (rather than send_and_wait) is the same thing, spelled so that it is clear why
        # concurrent publishes share a batch: they all enqueue before the request goes out.
        producer = await self._usable_producer()
        encoded = key.encode()
        size = len(encoded) + len(value)
        try:
            with _mapped(f"publishing to {topic!r}", topic, size, self.max_request_size):
                delivery = await producer.send(topic, value=value, key=encoded, headers=list(headers) or None)
            # Refused at delivery: the broker's message.max.bytes (or the topic's) is lower.
            with _mapped(f"publishing to {topic!r}", topic, size, None):
                await asyncio.wait_for(asyncio.shield(delivery), self.delivery_timeout)
        except TimeoutError as exc:
            self._mark_broken(producer)
            raise LogUnavailableError(
                f"publishing to {topic!r}: no delivery in {self.delivery_timeout:g} s"
            ) from exc
        except LogUnavailableError as exc:
            if _is_fatal(exc.__cause__) or _sender_died(producer):
                self._mark_broken(producer)
            raise

    def _mark_broken(self, producer: AIOKafkaProducer) -> None:
        if producer is self._producer:
            self._broken = True

    async def _usable_producer(self) -> AIOKafkaProducer:
        if not self._broken and not _sender_died(self._producer):
            return self._producer
        async with self._replacing:
            if self._broken or _sender_died(self._producer):
                fresh = AIOKafkaProducer(**self._options)
                await self._start(fresh)  # LogUnavailableError while the brokers are down
                old, self._producer, self._broken = self._producer, fresh, False
                self.replacements += 1
                log.warning("replaced a broken Kafka producer (replacement %d)", self.replacements)
                retiring = asyncio.create_task(_retire(old))
                self._retired.add(retiring)
                retiring.add_done_callback(self._retired.discard)
        return self._producer


_FATAL_PRODUCER_ERRORS = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
    ProducerClosed,
    IllegalStateError,
)


def _is_fatal(error: BaseException | None) -> bool:
    return isinstance(error, _FATAL_PRODUCER_ERRORS)


def _sender_died(producer: AIOKafkaProducer) -> bool:
    # aiokafka's producer sends from one background task; once it has died (a fatal broker
    # answer), every later send waits forever. Its public API does not say so, hence the peek.
    sender = getattr(producer, "_sender", None)
    task = getattr(sender, "sender_task", None)
    return task is not None and task.done()


async def _retire(producer: AIOKafkaProducer) -> None:
    # Bounded: a broken producer's flush can wait forever.
    with contextlib.suppress(Exception, TimeoutError):
        await asyncio.wait_for(producer.stop(), 5.0)


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
        self._on_revoked: RevocationHandler | None = None

    def on_revoked(self, handler: RevocationHandler) -> None:
        """Call ``handler`` with the (topic, partition) pairs a rebalance takes from this member,
        before the rebalance completes: the last moment this member can commit them."""
        self._on_revoked = handler

    async def start(self) -> None:
        self._consumer.subscribe(self._topics, listener=_Listener(self))
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
                headers=tuple(message.headers or ()),
            )

    async def commit(self, record: Record) -> None:
        partition = TopicPartition(record.topic, record.partition)
        try:
            with _mapped(f"committing {record.topic}[{record.partition}]"):
                await self._consumer.commit({partition: record.offset + 1})
        except LogUnavailableError as exc:
            if not isinstance(exc.__cause__, IllegalStateError | CommitFailedError):
                raise
            # The partition moved to another member in a rebalance (IllegalStateError: no longer
            # assigned here; CommitFailedError: the group moved on while committing). Its new
            # owner re-reads from the last commit, so the record is delivered again: dropping
            # this commit costs a duplicate, never a loss. Crashing the loop would cost more.
            log.warning(
                "commit of %s[%d]@%d dropped after a rebalance: %s",
                record.topic,
                record.partition,
                record.offset,
                exc.__cause__,
            )


RevocationHandler = Callable[[frozenset[tuple[str, int]]], Awaitable[None]]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, subscription: KafkaSubscription) -> None:
        self._subscription = subscription

    async def on_partitions_revoked(self, revoked: Any) -> None:
        handler = self._subscription._on_revoked
        if handler is not None and revoked:
            await handler(frozenset((tp.topic, tp.partition) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


class TopicInfo(msgspec.Struct, frozen=True, kw_only=True):
    partitions: int
    max_message_bytes: int | None  # the topic's max.message.bytes, None if it could not be read


async def describe_topics(
    bootstrap_servers: str, topics: Sequence[str], security: KafkaSecurity | None = None
) -> dict[str, TopicInfo | None]:
    """Each topic's partition count and size limit; None for a topic that does not exist."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **(security or KafkaSecurity()).options()
    )
    with _mapped("describing topics"):
        await admin.start()
        try:
            described = await admin.describe_topics(list(topics))
            existing = [e["topic"] for e in described if e["error_code"] == 0]
            limits: dict[str, int] = {}
            if existing:
                resources = [
                    ConfigResource(ConfigResourceType.TOPIC, name, configs={"max.message.bytes": None})
                    for name in existing
                ]
                for response in await admin.describe_configs(resources):
                    for resource in response.resources:
                        name, entries = resource[3], resource[4]
                        for entry in entries:
                            if entry[0] == "max.message.bytes" and entry[1] is not None:
                                limits[name] = int(entry[1])
        finally:
            await admin.close()
    found: dict[str, TopicInfo | None] = {name: None for name in topics}
    for entry in described:
        if entry["error_code"] == 0:
            name = entry["topic"]
            found[name] = TopicInfo(partitions=len(entry["partitions"]), max_message_bytes=limits.get(name))
    return found


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
