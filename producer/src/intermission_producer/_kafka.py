"""`Transport` on Kafka (aiokafka): one `KafkaProducer`, a consumer per read.

With `_producer`, the only modules of the SDK that import aiokafka; `_producer.broker_error` is
the one place that turns its errors into the SDK's `BrokerError`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

# aiokafka ships no type information (no py.typed): its names are Any to mypy.
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    CommitFailedError,
    IllegalStateError,
    KafkaError,
)

from ._errors import ClientUsageError
from ._lifecycle import StartStop
from ._producer import KafkaProducer, broker_error
from ._security import KafkaSecurity
from ._transport import Headers, Start, TransportRecord

__all__ = ["KafkaTransport"]

_log = logging.getLogger("intermission_producer")


@contextlib.contextmanager
def _broker_errors(what: str) -> Iterator[None]:
    """aiokafka's errors of the consumers as BrokerError."""
    try:
        yield
    except KafkaError as exc:
        raise broker_error(what, exc) from exc


class KafkaTransport(StartStop):
    """`Transport` on Kafka. Use it as ``async with KafkaTransport(...)``, or start() and stop().

    One `KafkaProducer` (idempotent, acks=all, replaced when it breaks) publishes everything: a
    retried send can neither duplicate nor reorder a run's events. A publish the brokers refuse
    for what it is raises `RecordRefusedError`; one they cannot take now, `BrokerError`.
    ``security`` goes to every Kafka client it creates; ``consumer_options`` to its consumers
    only (fetch and session tuning). Consumers read committed records only unless
    ``consumer_options`` says otherwise, so an event of an aborted worker transaction is never
    seen. Offsets are committed explicitly (``read_group``) or not at all (``read``), whatever
    ``consumer_options`` says. ``producer_options`` (aiokafka's producer tuning) and
    ``delivery_timeout`` (seconds a publish may wait for its acknowledgement before the producer
    is taken for broken) go to the producer.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        security: KafkaSecurity | None = None,
        client_id: str = "intermission-producer",
        consumer_options: Mapping[str, Any] | None = None,
        producer_options: Mapping[str, Any] | None = None,
        delivery_timeout: float = 120.0,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._producer_options = dict(producer_options or {})
        self._delivery_timeout = delivery_timeout
        self._kafka_security = security or KafkaSecurity()
        self._security = self._kafka_security.options()
        self._client_id = client_id
        self._consumer_options = dict(consumer_options or {})
        self._producer: KafkaProducer | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._producer is not None:
            raise ClientUsageError("the Kafka transport is already started")
        producer = KafkaProducer(
            self._bootstrap_servers,
            security=self._kafka_security,
            client_id=self._client_id,
            delivery_timeout=self._delivery_timeout,
            producer_options=self._producer_options,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        """Flushes what is still buffered, then closes; safe to call twice."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    @property
    def producer(self) -> KafkaProducer:
        """The one producer every publish goes through (its ``replacements`` count, ...)."""
        return self._started()

    def _started(self) -> KafkaProducer:
        if self._producer is None:
            raise ClientUsageError("start the Kafka transport first (async with KafkaTransport(...))")
        return self._producer

    def _consumer(self, **required: Any) -> Any:
        options: dict[str, Any] = {
            "isolation_level": "read_committed",
            **self._consumer_options,
            **self._security,
            "bootstrap_servers": self._bootstrap_servers,
            "client_id": self._client_id,
            "enable_auto_commit": False,
            "group_id": None,
            **required,
        }
        return AIOKafkaConsumer(**options)

    # -- the Transport protocol -------------------------------------------------------------

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        await self._started().publish(topic, key, value, headers)

    @contextlib.asynccontextmanager
    async def read(
        self, topics: Sequence[str], *, start: Start, until_end: bool = False
    ) -> AsyncIterator[AsyncIterator[TransportRecord]]:
        producer = self._started()
        consumer = self._consumer()
        try:
            with _broker_errors(f"reading {list(topics)}"):
                ends = await _open_assigned(producer, consumer, topics, start)
            records = _until(consumer, ends) if until_end else _follow(consumer, topics)
            try:
                yield records
            finally:
                await records.aclose()
        finally:
            await consumer.stop()  # idempotent

    @contextlib.asynccontextmanager
    async def read_group(
        self, topics: Sequence[str], group_id: str, *, from_beginning: bool = False
    ) -> AsyncIterator[AsyncIterator[TransportRecord]]:
        self._started()
        consumer = self._consumer(
            group_id=group_id, auto_offset_reset="earliest" if from_beginning else "latest"
        )
        try:  # stop() is needed too when start() fails half-way
            consumer.subscribe(list(topics))
            with _broker_errors(f"joining group {group_id!r} on {list(topics)}"):
                await consumer.start()
            records = _committing(consumer, topics)
            try:
                yield records
            finally:
                await records.aclose()
        finally:
            await consumer.stop()


async def _open_assigned(
    producer: KafkaProducer, consumer: Any, topics: Sequence[str], start: Start
) -> dict[Any, int]:
    """Start ``consumer`` on every partition of ``topics``, at their beginning or end.

    Returns the end offsets found while positioning. The positions are concrete offsets before
    this returns, not a lazy "latest" resolved on the first fetch, so an event published after
    this call is never missed: that is what makes "read, then submit" safe.
    """
    partitions: list[Any] = []
    for topic in topics:
        # The producer's metadata wait is public API and, on brokers that allow it, creates a
        # results topic nobody has written to yet, so a first submit_and_wait does not fail.
        ids = await producer.partitions_for(topic)
        partitions += [TopicPartition(topic, p) for p in sorted(ids)]
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends: dict[Any, int] = await consumer.end_offsets(partitions)
        offsets = ends if start == "end" else await consumer.beginning_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, offsets[tp])
    except BaseException:
        await consumer.stop()
        raise
    return ends


async def _follow(consumer: Any, topics: Sequence[str]) -> AsyncGenerator[TransportRecord, None]:
    with _broker_errors(f"reading {list(topics)}"):
        async for record in consumer:  # ends when the consumer is stopped
            yield record


async def _until(consumer: Any, ends: Mapping[Any, int]) -> AsyncGenerator[TransportRecord, None]:
    """Each partition's records up to (excluding) its end offset.

    Done when each partition's position reaches its end. Positions, not record offsets, decide:
    a transaction's commit marker or an aborted batch occupies offsets that no record is
    returned for, and the position moves past them anyway.
    """
    with _broker_errors(f"reading {sorted({tp.topic for tp in ends})} to their end"):
        remaining = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
            remaining = [tp for tp in remaining if await consumer.position(tp) < ends[tp]]


async def _committing(consumer: Any, topics: Sequence[str]) -> AsyncGenerator[TransportRecord, None]:
    with _broker_errors(f"reading {list(topics)} in a group"):
        async for record in consumer:
            yield record
            # Reached when the caller asks for the next record: this one is handled (or was
            # skipped as undecodable, which must not be re-read after a restart either).
            tp = TopicPartition(record.topic, record.partition)
            try:
                await consumer.commit({tp: record.offset + 1})
            except (CommitFailedError, IllegalStateError) as exc:
                # The group rebalanced and this partition moved: its new owner reads from the
                # last committed offset, so the record is delivered again there, not lost.
                _log.warning("could not commit %s@%d after a rebalance: %s", tp, record.offset + 1, exc)
