"""The two seams between the worker and the outside: a log of records and an object store.

Kafka and S3 implement them in production (``adapters.kafka``, ``adapters.s3``); an in-process
log and a local directory implement them for the embedded demo and tests (``adapters.local``).
The worker code is the same either way. Adapters raise only errors of ``intermission.errors``:
``PreconditionFailed`` when a condition lost, ``StoreUnavailableError`` / ``LogUnavailableError``
when the dependency failed (retry later), ``RecordTooLargeError`` when a record cannot fit.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import Protocol

import msgspec
from intermission_producer import Headers

__all__ = [
    "RECORD_FRAMING_BYTES",
    "Headers",
    "PreconditionFailed",
    "Publisher",
    "Record",
    "SnapshotStore",
    "StoredObject",
    "Subscription",
]

# Room a log record needs beyond its value (key, headers, batch framing): a topic that takes
# values of N bytes is given N plus this, and what the worker writes stays N minus this.
RECORD_FRAMING_BYTES = 16 * 1024


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """One consumed record, with where it came from (dead letters keep the position)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    # Kafka's (name, bytes) pairs; the W3C trace context (traceparent, tracestate) rides here.
    headers: tuple[tuple[str, bytes], ...] = ()


class Publisher(Protocol):
    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        """Returns once the record, with ``headers``, is durable (acks=all); raises otherwise."""
        ...


class Subscription(Protocol):
    def records(self) -> AsyncIterator[Record]:
        """Records of the subscribed topics, in order per partition, until closed."""
        ...

    async def commit(self, record: Record) -> None:
        """Mark ``record`` and everything before it on its partition as done."""
        ...

    async def close(self) -> None: ...


class StoredObject(msgspec.Struct, frozen=True):
    data: bytes
    etag: str


class PreconditionFailed(Exception):
    """A conditional write lost: the object exists (create) or changed (replace).

    Not an error of the tree: losing a race is an expected answer of a conditional write."""


class SnapshotStore(Protocol):
    async def create(self, key: str, data: bytes) -> str:
        """Write only if ``key`` is absent (If-None-Match: *); returns the etag."""
        ...

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        """Write only if ``key`` still has ``etag`` (If-Match); returns the new etag."""
        ...

    async def get(self, key: str) -> StoredObject | None:
        """The object, or None when absent."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, in lexicographic order."""
        ...

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> builtins.list[str]:
        """Up to ``limit`` (1 to 1000) keys under ``prefix`` that sort after ``start_after``, in
        lexicographic order: one S3 ListObjectsV2 request. Fewer than ``limit`` means none remain."""
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; absent already is fine."""
        ...
