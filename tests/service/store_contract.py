"""The `SnapshotStore` contract, as plain async checks taking a store.

Each adapter's test file runs every check in CONTRACT against its own store (one parametrized
test), so S3 and the local directory are held to exactly the same behaviour.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from intermission.service import PreconditionFailed, SnapshotStore

Check = Callable[[SnapshotStore], Awaitable[None]]


async def create_then_get(store: SnapshotStore) -> None:
    etag = await store.create("runs/r1/snapshots/00000001", b"v1")
    got = await store.get("runs/r1/snapshots/00000001")
    assert got is not None
    assert got.data == b"v1"
    assert got.etag == etag
    # S3 returns quoted ETags; callers pass them back to If-Match untouched.
    assert etag.startswith('"')
    assert etag.endswith('"')


async def create_twice_fails(store: SnapshotStore) -> None:
    await store.create("k", b"first")
    with pytest.raises(PreconditionFailed):
        await store.create("k", b"second")
    got = await store.get("k")
    assert got is not None
    assert got.data == b"first"


async def replace_with_current_etag(store: SnapshotStore) -> None:
    first = await store.create("k", b"v1")
    second = await store.replace("k", b"v2", first)
    assert second != first
    got = await store.get("k")
    assert got is not None
    assert (got.data, got.etag) == (b"v2", second)


async def replace_with_stale_etag_fails(store: SnapshotStore) -> None:
    first = await store.create("k", b"v1")
    await store.replace("k", b"v2", first)
    with pytest.raises(PreconditionFailed):
        await store.replace("k", b"v3", first)
    got = await store.get("k")
    assert got is not None
    assert got.data == b"v2"


async def replace_missing_fails(store: SnapshotStore) -> None:
    etag = await store.create("other", b"v1")
    with pytest.raises(PreconditionFailed):
        await store.replace("missing", b"v2", etag)
    assert await store.get("missing") is None


async def concurrent_replaces_one_wins(store: SnapshotStore) -> None:
    etag = await store.create("k", b"v0")
    contenders = [f"writer-{i}".encode() for i in range(8)]
    outcomes = await asyncio.gather(
        *(store.replace("k", data, etag) for data in contenders), return_exceptions=True
    )
    winners = [(data, o) for data, o in zip(contenders, outcomes, strict=True) if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, PreconditionFailed)]
    assert len(winners) == 1, outcomes
    assert len(losers) == len(contenders) - 1, outcomes
    got = await store.get("k")
    assert got is not None
    assert (got.data, got.etag) == winners[0]


async def concurrent_creates_one_wins(store: SnapshotStore) -> None:
    outcomes = await asyncio.gather(
        *(store.create("k", f"writer-{i}".encode()) for i in range(8)), return_exceptions=True
    )
    assert sum(isinstance(o, str) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, PreconditionFailed) for o in outcomes) == 7, outcomes


async def get_missing_is_none(store: SnapshotStore) -> None:
    assert await store.get("runs/nobody/result") is None


async def list_by_prefix(store: SnapshotStore) -> None:
    keys = [
        "runs/a/snapshots/00000002",
        "runs/a/snapshots/00000001",
        "runs/a/result",
        "runs/ab/snapshots/00000001",  # shares the text prefix "runs/a" but not "runs/a/"
        "other/x",
    ]
    for key in keys:
        await store.create(key, b".")
    assert await store.list("runs/a/") == [
        "runs/a/result",
        "runs/a/snapshots/00000001",
        "runs/a/snapshots/00000002",
    ]
    assert await store.list("runs/a/snapshots/") == [
        "runs/a/snapshots/00000001",
        "runs/a/snapshots/00000002",
    ]
    assert await store.list("") == sorted(keys)
    assert await store.list("nothing/") == []


async def list_page_by_page(store: SnapshotStore) -> None:
    keys = [f"index/done/{i:03d}" for i in range(7)] + ["index/other/000", "index/donex"]
    for key in keys:
        await store.create(key, b"")
    first = await store.list_page("index/done/", limit=3)
    assert first == ["index/done/000", "index/done/001", "index/done/002"]
    second = await store.list_page("index/done/", start_after=first[-1], limit=3)
    assert second == ["index/done/003", "index/done/004", "index/done/005"]
    last = await store.list_page("index/done/", start_after=second[-1], limit=3)
    assert last == ["index/done/006"]
    assert await store.list_page("index/done/", start_after=last[-1], limit=3) == []
    # start_after need not be a stored key: a time bound, say.
    assert await store.list_page("index/done/", start_after="index/done/0045") == [
        "index/done/005",
        "index/done/006",
    ]
    with pytest.raises(ValueError, match="1 to 1000"):
        await store.list_page("index/", limit=0)


async def empty_and_binary_values(store: SnapshotStore) -> None:
    await store.create("empty", b"")
    blob = bytes(range(256)) * 100
    await store.create("blob", blob)
    empty, got = await store.get("empty"), await store.get("blob")
    assert empty is not None
    assert empty.data == b""
    assert got is not None
    assert got.data == blob


async def delete_then_create_again(store: SnapshotStore) -> None:
    await store.create("runs/d/x", b"one")
    await store.delete("runs/d/x")
    assert await store.get("runs/d/x") is None
    await store.delete("runs/d/x")  # deleting what is absent is fine
    await store.create("runs/d/x", b"two")
    stored = await store.get("runs/d/x")
    assert stored is not None
    assert stored.data == b"two"


CONTRACT: list[Check] = [
    create_then_get,
    create_twice_fails,
    replace_with_current_etag,
    replace_with_stale_etag_fails,
    replace_missing_fails,
    concurrent_replaces_one_wins,
    concurrent_creates_one_wins,
    get_missing_is_none,
    list_by_prefix,
    list_page_by_page,
    empty_and_binary_values,
    delete_then_create_again,
]
