"""What the client does with records a transport read: decode them, merge partitions by time.

Transport-neutral: records are anything with the attributes of a `TransportRecord`.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from intermission_schemas import EventDecodeError

from ._transport import TransportRecord

__all__ = ["decoded", "merge_by_time"]

_log = logging.getLogger("intermission_producer")

T = TypeVar("T")


def decoded(record: TransportRecord, decode: Callable[[bytes], T]) -> T | None:
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


def merge_by_time(streams: Sequence[Sequence[TransportRecord]]) -> list[TransportRecord]:
    """Records of several partitions in one order: by timestamp, but never reordering a
    partition. Within a partition the offset order is the truth (two workers' clocks may
    disagree); across partitions and topics the timestamp is all there is. Ties go to the
    earlier stream, so list approvals before results."""
    return list(heapq.merge(*streams, key=lambda record: record.timestamp))
