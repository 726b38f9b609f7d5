"""Kafka behind the transport seam: a durable publisher (the producer SDK's `KafkaProducer`), a
manually committed subscription.

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
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
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
    KafkaError,
    TopicAlreadyExistsError,
    for_code,
)
from intermission_producer import BrokerError, KafkaSecurity, RecordRefusedError
from intermission_producer._producer import DEFAULT_MAX_REQUEST_SIZE, KafkaProducer

from ...errors import LogUnavailableError, RecordTooLargeError, UnpublishableError, UsageError
from ..observe.events import PartitionLag
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

# The subscription fixes these: auto-commit would acknowledge records the worker has not
# finished, and read_uncommitted would expose records of aborted transactions.
_FIXED_CONSUMER_OPTIONS = {"enable_auto_commit": False, "isolation_level": "read_committed"}
_RESERVED_CONSUMER_OPTIONS = {"bootstrap_servers", "group_id", "client_id", *_FIXED_CONSUMER_OPTIONS}


@contextlib.contextmanager
def _mapped(what: str) -> Iterator[None]:
    """The Kafka clients' errors (aiokafka's, and the producer SDK's for publishing) as ours:
    the one place this adapter translates them. A record the brokers refuse for what it is is
    `UnpublishableError` (`RecordTooLargeError` for its size); everything else about Kafka is
    `LogUnavailableError`, an outage."""
    try:
        yield
    except RecordRefusedError as exc:
        if exc.reason == "too_large":
            raise RecordTooLargeError(exc.topic, exc.size, exc.limit) from exc
        raise UnpublishableError(exc.topic, exc.reason, str(exc)) from exc
    except BrokerError as exc:  # its message already says what was being done
        raise LogUnavailableError(str(exc)) from exc
    except KafkaError as exc:
        raise LogUnavailableError(f"{what}: {type(exc).__name__}: {exc}") from exc


class KafkaPublisher(KafkaProducer):
    """`Publisher` on the producer SDK's `KafkaProducer` (the one Kafka producer of every
    Intermission part): idempotent, acks=all, replaced by a new one after a fatal error or a
    delivery that does not finish in time; with our errors instead of the SDK's.

    A publish the brokers cannot take now raises LogUnavailableError, so the caller tries it
    again; one they refuse for what it is (topic, size) raises UnpublishableError.
    """

    DEFAULT_CLIENT_ID = "intermission"

    async def start(self) -> None:
        with _mapped("starting the producer"):
            await super().start()

    async def stop(self) -> None:
        """Flushes pending records, then closes; safe to call twice."""
        with _mapped("stopping the producer"):
            await super().stop()

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        with _mapped(f"publishing to {topic!r}"):
            await super().publish(topic, key, value, headers)


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
        self._joined = False

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

    def pause(self) -> None:
        """Stop fetching from the partitions held (the consumer keeps polling, so it stays in
        its group); `resume` starts again where it stopped."""
        self._consumer.pause(*self._consumer.assignment())

    def resume(self) -> None:
        self._consumer.resume(*self._consumer.paused())

    def assignment(self) -> frozenset[tuple[str, int]]:
        """(topic, partition) pairs this member holds now; every rebalance may change them."""
        return frozenset((tp.topic, tp.partition) for tp in self._consumer.assignment())

    def joined(self) -> bool:
        """True once the group gave this member an assignment (possibly empty)."""
        return self._joined

    async def lag(self) -> tuple[PartitionLag, ...]:
        """Per partition held: the last stable offset (the end a read_committed reader can
        reach) minus this consumer's position, as Kafka's own records-lag. A partition whose
        end or position is not known yet (just assigned, brokers away) is left out."""
        found: list[PartitionLag] = []
        for tp in self._consumer.assignment():
            end = self._consumer.last_stable_offset(tp)
            if end is None:
                continue
            try:
                # Known positions answer at once; an unknown one would wait for the brokers.
                async with asyncio.timeout(1.0):
                    position = await self._consumer.position(tp)
            except (KafkaError, TimeoutError):
                continue
            found.append(PartitionLag(topic=tp.topic, partition=tp.partition, lag=max(0, end - position)))
        return tuple(found)

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
        self._subscription._joined = True


# Replicas and min.insync.replicas of the topics created on a cluster of three brokers or more.
CLUSTER_REPLICATION = 3
CLUSTER_MIN_INSYNC = 2


def replication_for(brokers: int) -> int:
    """The replication factor `ensure_topics` picks on a cluster of ``brokers`` brokers."""
    return CLUSTER_REPLICATION if brokers >= CLUSTER_REPLICATION else 1


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
    replication: int | None = None,
    security: KafkaSecurity | None = None,
    *,
    configs: Mapping[str, str] | None = None,
) -> None:
    """Create the topics that do not exist yet; existing ones are left exactly as they are.

    ``replication`` None: as the cluster allows, three replicas with min.insync.replicas 2 on
    a cluster of three brokers or more (a write acknowledged by acks=all then survives losing
    a broker, and one broker may be down without stopping writes), one replica otherwise.
    ``configs`` are topic-level settings for new topics (e.g. ``max.message.bytes``).
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **(security or KafkaSecurity()).options()
    )
    with _mapped("creating topics"):
        await admin.start()
        try:
            settings = dict(configs or {})
            if replication is None:
                described = await admin.describe_cluster()
                replication = replication_for(len(described["brokers"]))
                if replication >= CLUSTER_REPLICATION:
                    settings.setdefault("min.insync.replicas", str(CLUSTER_MIN_INSYNC))
            new = [NewTopic(t, partitions, replication, topic_configs=settings) for t in topics]
            response = await admin.create_topics(new)
        finally:
            await admin.close()
    # Errors come back per topic in the response, not as exceptions.
    for topic, code, *message in response.topic_errors:
        error = for_code(code)
        if code != 0 and error is not TopicAlreadyExistsError:
            detail = message[0] if message else ""
            raise LogUnavailableError(f"creating topic {topic!r}: {error.__name__}: {detail}")
