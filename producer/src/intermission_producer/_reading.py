"""Reading topics without a consumer group: assign every partition, position it, decode records.

Groupless readers join nothing, so they start in milliseconds instead of the seconds a group
join takes, they commit nothing, and two of them never split a topic between them: each sees
every record. That is what a caller waiting for one run's result, or reading one run's history,
needs.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from intermission_schemas import EventDecodeError

__all__ = ["Start", "decoded", "merge_by_time", "open_assigned", "read_until"]

_log = logging.getLogger("intermission_producer")

T = TypeVar("T")
Start = Literal["beginning", "end"]


async def open_assigned(
    producer: AIOKafkaProducer,
    consumer: AIOKafkaConsumer,
    topics: Sequence[str],
    start: Start,
) -> dict[TopicPartition, int]:
    """Start ``consumer`` on every partition of ``topics``, at their beginning or end.

    Returns the end offsets found while positioning. The positions are concrete offsets before
    this returns, not a lazy "latest" resolved on the first fetch, so an event published after
    this call is never missed: that is what makes "subscribe, then submit" safe.
    """
    partitions: list[TopicPartition] = []
    for topic in topics:
        # The producer's metadata wait is public API and, on brokers that allow it, creates a
        # results topic nobody has written to yet, so a first submit_and_wait does not fail.
        ids = await producer.partitions_for(topic)
        partitions += [TopicPartition(topic, p) for p in sorted(ids)]
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        offsets = ends if start == "end" else await consumer.beginning_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, offsets[tp])
    except BaseException:
        await consumer.stop()
        raise
    return ends


def decoded(record: Any, decode: Callable[[bytes], T]) -> T | None:
    """The event in ``record``, or None (logged) if it is not one: a reader never crashes on a
    bad record, since it would then crash again on the same record after every restart."""
    if record.value is None:
        _log.warning(
            "skipping %s[%d]@%d: empty value (tombstone)", record.topic, record.partition, record.offset
        )
        return None
    try:
        return decode(record.value)
    except EventDecodeError as exc:
        _log.warning("skipping %s[%d]@%d: %s", record.topic, record.partition, record.offset, exc)
        return None


async def read_until(
    consumer: AIOKafkaConsumer,
    ends: Mapping[TopicPartition, int],
    keep: Callable[[Any], bool],
) -> dict[TopicPartition, list[Any]]:
    """Every kept record of each partition, in offset order, up to (excluding) its end offset.

    Done when each partition's position reaches its end. Positions, not record offsets, decide:
    a transaction's commit marker or an aborted batch occupies offsets that no record is
    returned for, and the position moves past them anyway.
    """
    kept: dict[TopicPartition, list[Any]] = {tp: [] for tp in ends}
    remaining = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
    while remaining:
        batches = await consumer.getmany(*remaining, timeout_ms=500)
        for tp, records in batches.items():
            kept[tp] += [r for r in records if r.offset < ends[tp] and keep(r)]
        remaining = [tp for tp in remaining if await consumer.position(tp) < ends[tp]]
    return kept


def merge_by_time(streams: Sequence[Sequence[Any]]) -> list[Any]:
    """Records of several partitions in one order: by timestamp, but never reordering a
    partition. Within a partition the offset order is the truth (two workers' clocks may
    disagree); across partitions and topics the timestamp is all there is. Ties go to the
    earlier stream, so list approvals before results."""
    return list(heapq.merge(*streams, key=lambda record: record.timestamp))
