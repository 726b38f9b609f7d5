"""Reading and writing a run's stored steps: sealed, and only ever by conditional write.

A new object is created with If-None-Match, so of two workers reaching the same step the first
writer's object is the step; a status change is a replace with If-Match on the etag read, so of
two workers holding the same pause only one moves it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import msgspec
from intermission_schemas import RunResult, Snapshot, decode_run_result, decode_snapshot, encode

from ...errors import TamperedSnapshotError
from ..ports import PreconditionFailed, SnapshotStore
from .keys import EXPIRY_PREFIX, expiry_key, parse_expiry_key, result_key, run_prefix, snapshot_key
from .sealing import Sealer, pause_digest

__all__ = ["Loaded", "Snapshots"]


class Loaded(msgspec.Struct, frozen=True):
    """A snapshot as read, with the etag a conditional replace must name."""

    snapshot: Snapshot
    etag: str


class Snapshots:
    def __init__(self, store: SnapshotStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer

    async def load(self, run_id: str, version: int) -> Loaded | None:
        """The pause, once its seal is checked and it is shown to be this run's step ``version``
        (TamperedSnapshotError otherwise)."""
        key = snapshot_key(run_id, version)
        stored = await self.store.get(key)
        if stored is None:
            return None
        snapshot = decode_snapshot(self.sealer.open(key, stored.data))
        if snapshot.run_id != run_id or snapshot.snapshot_version != version:
            raise TamperedSnapshotError(
                key, f"holds run {snapshot.run_id!r} step {snapshot.snapshot_version}, not its own"
            )
        return Loaded(snapshot, stored.etag)

    async def create(self, snapshot: Snapshot) -> Loaded:
        """Store a new step; if a retried or duplicated record wrote it first, that one."""
        key = snapshot_key(snapshot.run_id, snapshot.snapshot_version)
        try:
            return Loaded(snapshot, await self.store.create(key, self.sealer.seal(key, encode(snapshot))))
        except PreconditionFailed:
            existing = await self.load(snapshot.run_id, snapshot.snapshot_version)
            assert existing is not None, f"{key} was created, then vanished"
            return existing

    async def replace(self, loaded: Loaded, updated: Snapshot) -> Loaded:
        """Raises PreconditionFailed when the pause changed since ``loaded`` was read."""
        key = snapshot_key(updated.run_id, updated.snapshot_version)
        etag = await self.store.replace(key, self.sealer.seal(key, encode(updated)), loaded.etag)
        return Loaded(updated, etag)

    async def load_result(self, run_id: str) -> RunResult | None:
        key = result_key(run_id)
        stored = await self.store.get(key)
        if stored is None:
            return None
        result = decode_run_result(self.sealer.open(key, stored.data))
        if result.run_id != run_id:
            raise TamperedSnapshotError(key, f"holds the result of run {result.run_id!r}")
        return result

    async def create_result(self, result: RunResult) -> RunResult:
        """Store the run's end; if another worker stored it first, theirs."""
        key = result_key(result.run_id)
        try:
            await self.store.create(key, self.sealer.seal(key, encode(result)))
        except PreconditionFailed:
            stored = await self.load_result(result.run_id)
            assert stored is not None, f"{key} was created, then vanished"
            return stored
        return result

    async def known(self, run_id: str) -> bool:
        return bool(await self.store.list(run_prefix(run_id)))

    async def around(self, run_id: str, version: int) -> tuple[Loaded | None, Loaded | RunResult | None]:
        """Pause ``version`` and the step that continued it (None if none is stored), read side
        by side: one round trip."""
        loaded, following, result = await asyncio.gather(
            self.load(run_id, version), self.load(run_id, version + 1), self.load_result(run_id)
        )
        if loaded is None:
            return None, None
        return loaded, _continuation(loaded.snapshot, following, result)

    async def following(self, snapshot: Snapshot) -> Loaded | RunResult | None:
        """The step that continued this pause, if one is stored: the next snapshot or the run's
        result, naming this pause's digest as its parent."""
        following, result = await asyncio.gather(
            self.load(snapshot.run_id, snapshot.snapshot_version + 1), self.load_result(snapshot.run_id)
        )
        return _continuation(snapshot, following, result)

    # -- deadlines --------------------------------------------------------------------------

    async def add_deadline(self, expires_at: datetime, run_id: str, version: int) -> None:
        with contextlib.suppress(PreconditionFailed):  # a retried pause wrote it already
            await self.store.create(expiry_key(expires_at, run_id, version), b"")

    async def drop_deadline(self, snapshot: Snapshot) -> None:
        if snapshot.expires_at is not None:
            await self.store.delete(
                expiry_key(snapshot.expires_at, snapshot.run_id, snapshot.snapshot_version)
            )

    async def deadlines(self, due_by: datetime) -> list[Deadline]:
        """Deadline markers up to ``due_by``, earliest first."""
        due: list[Deadline] = []
        for key in await self.store.list(EXPIRY_PREFIX):
            deadline, run_id, version = parse_expiry_key(key)
            if deadline > due_by:
                break  # keys sort by deadline
            due.append(Deadline(key=key, at=deadline, run_id=run_id, version=version))
        return due

    async def drop_marker(self, deadline: Deadline) -> None:
        await self.store.delete(deadline.key)


def _continuation(
    snapshot: Snapshot, following: Loaded | None, result: RunResult | None
) -> Loaded | RunResult | None:
    digest = pause_digest(snapshot)
    if following is not None and following.snapshot.parent_sha256 == digest:
        return following
    if result is not None and result.parent_sha256 == digest:
        return result
    return None


class Deadline(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    at: datetime
    run_id: str
    version: int
