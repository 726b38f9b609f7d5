"""In-process stand-ins for the two seams: a directory for S3 and a list per topic for Kafka.

They keep the contracts of the real adapters (conditional writes, committed offsets and
redelivery) so the embedded demo and the unit tests exercise the same worker code paths.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import itertools
import os
import tempfile
import threading
from collections import defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote

import msgspec

from ...errors import UsageError
from ..observe.events import PartitionLag
from ..ports import Headers, PreconditionFailed, Record, StoredObject

__all__ = ["LocalSnapshotStore", "MemoryLog"]


def _etag(data: bytes) -> str:
    # Quoted like S3's, so callers never learn to strip quotes for one store and not the other.
    return f'"{hashlib.sha256(data).hexdigest()}"'


class LocalSnapshotStore:
    """`SnapshotStore` in a directory, for one process.

    Each key is one file whose name is the percent-encoded key, so any S3 key works, "a" and
    "a/b" included, and listing is one directory read. create is atomic even across processes
    (a hard link fails if the name exists). replace is compare-then-rename under a lock: atomic
    within this process only; two processes replacing the same key could both win.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._objects = Path(root) / "objects"
        # Temp files live apart from objects so a crash mid-write never shows up as a key.
        self._tmp = Path(root) / "tmp"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        # A thread lock, held by the thread doing the compare-and-rename: a caller cancelled
        # mid-replace leaves its thread running, and the next replace must wait for it.
        self._replacing = threading.Lock()

    def _path(self, key: str) -> Path:
        if key in {"", ".", ".."}:
            raise UsageError(f"invalid snapshot key {key!r}")
        return self._objects / quote(key, safe="")

    def _write_temp(self, data: bytes) -> str:
        fd, name = tempfile.mkstemp(dir=self._tmp)  # O_CREAT | O_EXCL: never reuses a file
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())  # the content is on disk before the name points at it
        return name

    def _create_sync(self, key: str, data: bytes) -> str:
        target, temp = self._path(key), self._write_temp(data)
        try:
            os.link(temp, target)  # fails if target exists: atomic create-if-absent
        except FileExistsError:
            raise PreconditionFailed(key) from None
        finally:
            os.unlink(temp)
        return _etag(data)

    def _replace_sync(self, key: str, data: bytes, etag: str) -> str:
        with self._replacing:
            current = self._read(key)
            if current is None or _etag(current) != etag:
                raise PreconditionFailed(key)
            os.replace(self._write_temp(data), self._path(key))
            return _etag(data)

    def _read(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def _list_sync(self, prefix: str) -> list[str]:
        keys = (unquote(name) for name in os.listdir(self._objects))
        return sorted(key for key in keys if key.startswith(prefix))

    async def create(self, key: str, data: bytes) -> str:
        return await asyncio.to_thread(self._create_sync, key, data)

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        return await asyncio.to_thread(self._replace_sync, key, data, etag)

    async def get(self, key: str) -> StoredObject | None:
        data = await asyncio.to_thread(self._read, key)
        return None if data is None else StoredObject(data=data, etag=_etag(data))

    async def list(self, prefix: str) -> list[str]:
        return await asyncio.to_thread(self._list_sync, prefix)

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> builtins.list[str]:
        if not 1 <= limit <= 1000:
            raise ValueError(f"a page holds 1 to 1000 keys, not {limit}")
        keys = await self.list(prefix)
        return [key for key in keys if key > start_after][:limit]

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


class _Delivered(msgspec.Struct, frozen=True, kw_only=True):
    """A record as `MemoryLog` hands it to a producer client: a `Record` plus its timestamp."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int  # the log's append sequence: one order across all of its topics
    headers: tuple[tuple[str, bytes], ...] = ()


class MemoryLog:
    """An in-process log: the worker's `Publisher` and subscriptions, and a producer transport.

    One partition per topic, offsets committed per group. A subscription starts at its group's
    committed offset, so records read but not committed are delivered again to the group's next
    subscription, as Kafka does after a crash. There is no group membership: run one
    subscription per group at a time.

    It is also an ``intermission_producer.Transport`` (``read``, ``read_group``, ``publish``),
    so ``IntermissionClient(transport=log)`` talks to a worker running on the same log.
    """

    def __init__(self) -> None:
        self.topics: dict[str, list[Record]] = defaultdict(list)
        self.committed: dict[tuple[str, str], int] = {}  # (group, topic) -> next offset
        self.changed = asyncio.Condition()
        self._stamps: dict[str, list[int]] = defaultdict(list)  # per topic, by offset
        self._clock = itertools.count()

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        async with self.changed:
            log = self.topics[topic]
            log.append(
                Record(
                    topic=topic,
                    partition=0,
                    offset=len(log),
                    key=key.encode(),
                    value=value,
                    headers=tuple(headers),
                )
            )
            self._stamps[topic].append(next(self._clock))
            self.changed.notify_all()

    def subscribe(self, topics: Sequence[str], group: str) -> _MemorySubscription:
        return _MemorySubscription(self, topics, group)

    async def _follow(
        self,
        positions: dict[str, int],
        *,
        closed: Callable[[], bool] = lambda: False,
        ends: Mapping[str, int] | None = None,
    ) -> AsyncGenerator[Record, None]:
        """Records from ``positions`` on (advanced as each is yielded), waiting for new ones,
        until ``closed()`` or, with ``ends``, until every topic reached its end."""

        def pending() -> list[Record]:
            return [r for topic, at in positions.items() for r in self.topics[topic][at:]]

        def done() -> bool:
            return closed() or (ends is not None and all(positions[t] >= end for t, end in ends.items()))

        while not done():
            async with self.changed:
                await self.changed.wait_for(lambda: done() or bool(pending()))
                batch = pending()
            # Yield outside the lock: the consumer may publish while handling a record.
            for record in batch:
                if done():
                    return
                positions[record.topic] = record.offset + 1
                yield record

    def _delivered(self, record: Record) -> _Delivered:
        stamp = self._stamps[record.topic][record.offset]
        return _Delivered(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            timestamp=stamp,
            headers=record.headers,
        )

    # -- the producer's Transport -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def read(
        self, topics: Sequence[str], *, start: Literal["beginning", "end"], until_end: bool = False
    ) -> AsyncIterator[AsyncIterator[_Delivered]]:
        """Every record of ``topics`` from their beginning or their end now, committing nothing;
        with ``until_end``, only those published before this call."""
        ends = {topic: len(self.topics[topic]) for topic in topics}
        positions = dict(ends) if start == "end" else dict.fromkeys(topics, 0)
        records = self._as_delivered(self._follow(positions, ends=ends if until_end else None))
        try:
            yield records
        finally:
            await records.aclose()

    @contextlib.asynccontextmanager
    async def read_group(
        self, topics: Sequence[str], group_id: str, *, from_beginning: bool = False
    ) -> AsyncIterator[AsyncIterator[_Delivered]]:
        """``topics`` from ``group_id``'s committed offsets (none yet: the beginning or the end);
        a record is committed when the next one is asked for."""
        positions = {
            topic: self.committed.get((group_id, topic), 0 if from_beginning else len(self.topics[topic]))
            for topic in topics
        }
        records = self._as_delivered(self._follow(positions), commit_to=group_id)
        try:
            yield records
        finally:
            await records.aclose()

    async def _as_delivered(
        self, records: AsyncGenerator[Record, None], commit_to: str | None = None
    ) -> AsyncGenerator[_Delivered, None]:
        async with contextlib.aclosing(records):
            async for record in records:
                yield self._delivered(record)
                if commit_to is not None:
                    self.committed[(commit_to, record.topic)] = record.offset + 1


class _MemorySubscription:
    def __init__(self, log: MemoryLog, topics: Sequence[str], group: str) -> None:
        self._log, self._group, self._closed = log, group, False
        self._next = {topic: log.committed.get((group, topic), 0) for topic in topics}

    def records(self) -> AsyncIterator[Record]:
        return self._log._follow(self._next, closed=lambda: self._closed)

    async def commit(self, record: Record) -> None:
        self._log.committed[(self._group, record.topic)] = record.offset + 1

    def joined(self) -> bool:
        return True  # no group membership: the only subscription of its group holds everything

    def assignment(self) -> frozenset[tuple[str, int]]:
        return frozenset((topic, 0) for topic in self._next)

    async def lag(self) -> tuple[PartitionLag, ...]:
        return tuple(
            PartitionLag(topic=topic, partition=0, lag=len(self._log.topics[topic]) - taken)
            for topic, taken in self._next.items()
        )

    async def close(self) -> None:
        self._closed = True
        async with self._log.changed:
            self._log.changed.notify_all()
