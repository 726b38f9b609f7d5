"""The in-process adapters: LocalSnapshotStore against the store contract, and MemoryLog."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from intermission.errors import UsageError
from intermission.service import Record
from intermission.service.adapters.local import LocalSnapshotStore, MemoryLog
from intermission.service.ports import PreconditionFailed
from store_contract import CONTRACT, Check

_WAIT_S = 5.0


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
async def test_store_contract(check: Check, tmp_path: Path) -> None:
    await check(LocalSnapshotStore(tmp_path))


async def test_keys_with_any_characters_round_trip(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path)
    odd = ["a", "a/b", "a%2Fb", "päuse/ä b", "..x/../y"]
    for key in odd:
        await store.create(key, key.encode())
    for key in odd:
        got = await store.get(key)
        assert got is not None
        assert got.data == key.encode()
    assert await store.list("") == sorted(odd)


async def test_reserved_keys_are_refused(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path)
    for key in ["", ".", ".."]:
        with pytest.raises(UsageError):
            await store.create(key, b"x")


async def test_state_survives_a_new_store_on_the_same_directory(tmp_path: Path) -> None:
    etag = await LocalSnapshotStore(tmp_path).create("k", b"v1")
    again = LocalSnapshotStore(tmp_path)
    assert await again.replace("k", b"v2", etag)
    assert list((tmp_path / "tmp").iterdir()) == []  # no temp file left behind


async def _take(records: AsyncIterator[Record], count: int) -> list[Record]:
    taken: list[Record] = []
    async with asyncio.timeout(_WAIT_S):
        async for record in records:
            taken.append(record)
            if len(taken) == count:
                break
    return taken


async def test_a_replace_whose_caller_was_cancelled_still_excludes_the_next_one(tmp_path: Path) -> None:
    """A lease renewal cancelled mid-replace (its step ended) leaves its thread running; the
    step's own replace, with the same etag, must not pass its compare before that thread's
    rename lands, or both win and the renewal overwrites the resolved pause. Seen once the
    renewals ran on a test's auto-advancing clock (issue 20): the asyncio lock was released by
    the cancel while the thread still held the compare-and-rename."""
    store = LocalSnapshotStore(tmp_path)
    etag = await store.create("pause", b"resuming")
    renewing, release, compared = threading.Event(), threading.Event(), threading.Event()
    write_temp, read = store._write_temp, store._read

    def slow_write_temp(data: bytes) -> str:
        if data == b"renewed":  # compared already, not yet renamed
            renewing.set()
            release.wait(_WAIT_S)
        return write_temp(data)

    def noted_read(key: str) -> bytes | None:
        if renewing.is_set():
            compared.set()
        return read(key)

    store._write_temp, store._read = slow_write_temp, noted_read  # type: ignore[method-assign]
    renewal = asyncio.create_task(store.replace("pause", b"renewed", etag))
    await asyncio.to_thread(renewing.wait, _WAIT_S)
    renewal.cancel()
    await asyncio.gather(renewal, return_exceptions=True)
    resolving = asyncio.create_task(store.replace("pause", b"resolved", etag))
    # With the compare-and-rename held by the renewal's thread, the second compare waits, and
    # this bounded wait runs out; without it, the second compare happens now.
    await asyncio.to_thread(compared.wait, 1.0)
    release.set()
    (outcome,) = await asyncio.gather(resolving, return_exceptions=True)
    assert isinstance(outcome, PreconditionFailed), "both replaces with one etag won"
    stored = await store.get("pause")
    assert stored is not None
    assert stored.data == b"renewed"


async def test_memory_log_redelivers_what_was_not_committed() -> None:
    log = MemoryLog()
    for i in range(3):
        await log.publish("requests", f"k{i}", f"v{i}".encode())
    first = log.subscribe(["requests"], "workers")
    got = await _take(first.records(), 3)
    assert [(r.offset, r.key, r.value) for r in got] == [
        (i, f"k{i}".encode(), f"v{i}".encode()) for i in range(3)
    ]
    await first.commit(got[1])  # "everything up to offset 1 is done"
    await first.close()

    second = log.subscribe(["requests"], "workers")
    assert [r.offset for r in await _take(second.records(), 1)] == [2]
    # Another group has its own offsets and reads from the start.
    other = log.subscribe(["requests"], "auditors")
    assert [r.offset for r in await _take(other.records(), 3)] == [0, 1, 2]


async def test_memory_log_wakes_a_waiting_reader_and_reads_several_topics() -> None:
    log = MemoryLog()
    subscription = log.subscribe(["requests", "resumes"], "workers")
    reader = asyncio.create_task(_take(subscription.records(), 2))
    await asyncio.sleep(0)  # let the reader start waiting
    await log.publish("resumes", "r", b"resume")
    await log.publish("requests", "q", b"request")
    got = await reader
    assert sorted((r.topic, r.value) for r in got) == [("requests", b"request"), ("resumes", b"resume")]


async def test_memory_log_close_ends_a_waiting_iteration() -> None:
    log = MemoryLog()
    subscription = log.subscribe(["requests"], "workers")

    async def drain() -> list[Record]:
        return [record async for record in subscription.records()]

    reader = asyncio.create_task(drain())
    await asyncio.sleep(0)
    await subscription.close()
    async with asyncio.timeout(_WAIT_S):
        assert await reader == []
