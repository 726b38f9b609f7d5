"""Reading and writing a run's stored steps: sealed, and only ever by conditional write.

A new object is created with If-None-Match, so of two workers reaching the same step the first
writer's object is the step; a status change is a replace with If-Match on the etag read, so of
two workers holding the same pause only one moves it.

A pause that one answer settles (one question, one approval) is never rewritten: the answer (or
its expiry) creates its claim, ``claims/N``, a copy of the pause as taken, with If-None-Match.
Of several answers exactly one creates it, and no copy of the pause put back in the bucket can
undo it. Later changes (lease renewals, a takeover) replace the claim. A pause that collects
several answers changes in place, as it always did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import msgspec
from intermission_schemas import (
    RunCompleted,
    RunFailed,
    RunResult,
    Snapshot,
    decode_run_result,
    decode_snapshot,
    encode,
    encode_snapshot,
)

from ...errors import TamperedSnapshotError
from ..ports import PreconditionFailed, SnapshotStore
from .index import RunIndex, RunStatus
from .keys import EXPIRY_PREFIX, claim_key, expiry_key, parse_expiry_key, result_key, run_prefix, snapshot_key
from .sealing import Sealer, pause_digest

__all__ = ["Loaded", "PauseClosed", "Snapshots", "check_claim"]

_DEADLINE_PAGE = 1000  # S3 ListObjectsV2's largest page


# A claim created to close a pause rather than to take it: its run failed as tampered, so no
# answer may claim it any more (`Snapshots.close`).
_CLOSED = b'{"closed":"the run failed as tampered"}'


class PauseClosed(Exception):
    """The pause's claim closes it: its run ended (failed as tampered) while it was open."""


class Loaded(msgspec.Struct, frozen=True):
    """A snapshot as read, with the etag a conditional replace must name. ``claimed``: read
    from the pause's claim (``claims/N``), where its replaces go."""

    snapshot: Snapshot
    etag: str
    claimed: bool = False


class Snapshots:
    def __init__(
        self,
        store: SnapshotStore,
        sealer: Sealer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        *,
        index: RunIndex | None = None,
    ) -> None:
        """``index``: where the run index's markers go; None writes none (the worker's
        default, `Settings.run_index`)."""
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self.index = index

    async def load(self, run_id: str, version: int) -> Loaded | None:
        """The pause as first stored, once its seal is checked and it is shown to be this run's
        step ``version`` (TamperedSnapshotError otherwise)."""
        return await self._load(snapshot_key(run_id, version), run_id, version, claimed=False)

    async def load_claim(self, run_id: str, version: int) -> Loaded | None:
        """The pause's claim (``claims/N``), checked as `load` checks the pause."""
        return await self._load(claim_key(run_id, version), run_id, version, claimed=True)

    async def current(self, run_id: str, version: int) -> Loaded | None:
        """The pause as it stands: its claim if one was created, else the pause itself (one round
        trip of two GETs; a closed pause reads as stored). A claim that is not a copy of its
        pause is tampered with."""
        pause, claim = await asyncio.gather(self.load(run_id, version), self.claim_if_open(run_id, version))
        if pause is None or claim is None:
            return pause
        check_claim(pause.snapshot, claim.snapshot)
        return claim

    async def _load(self, key: str, run_id: str, version: int, *, claimed: bool) -> Loaded | None:
        stored = await self.store.get(key)
        if stored is None:
            return None
        body = self.sealer.open(key, stored.data)
        if claimed and body == _CLOSED:
            raise PauseClosed(key)
        snapshot = decode_snapshot(body)
        if snapshot.run_id != run_id or snapshot.snapshot_version != version:
            raise TamperedSnapshotError(
                key, f"holds run {snapshot.run_id!r} step {snapshot.snapshot_version}, not its own"
            )
        return Loaded(snapshot, stored.etag, claimed)

    async def claim_if_open(self, run_id: str, version: int) -> Loaded | None:
        """`load_claim`, with a closed pause read as having no claim (its run's end says why)."""
        try:
            return await self.load_claim(run_id, version)
        except PauseClosed:
            return None

    async def taken(self, loaded: Loaded) -> bool:
        """The pause is no longer open: answered, expired or closed (its claim exists, or an
        earlier release moved its status)."""
        if loaded.snapshot.status != "pending":
            return True
        key = claim_key(loaded.snapshot.run_id, loaded.snapshot.snapshot_version)
        return await self.store.get(key) is not None

    async def close(self, run_id: str) -> None:
        """Close every pause of the run that has no claim yet, by creating its claim as a
        closure: the run failed as tampered, and a pause put back afterwards must not be
        answerable (a pause one answer settles is read without the run's end). One LIST, one
        create per pause."""
        prefix = f"{run_prefix(run_id)}snapshots/"
        for key in await self.store.list(prefix):
            version = int(key.rsplit("/", 1)[1])
            with contextlib.suppress(PreconditionFailed):
                closing = claim_key(run_id, version)
                await self.store.create(closing, self.sealer.seal(closing, _CLOSED))

    async def claim(self, updated: Snapshot) -> Loaded:
        """Create the pause's claim holding ``updated`` (the pause as taken). Raises
        PreconditionFailed when it exists: another answer or the expiry took the pause first."""
        key = claim_key(updated.run_id, updated.snapshot_version)
        etag = await self.store.create(key, self.sealer.seal(key, encode_snapshot(updated)))
        return Loaded(updated, etag, True)

    async def create(
        self, snapshot: Snapshot, *, alongside: Callable[[Loaded], Awaitable[object]] | None = None
    ) -> Loaded:
        """Store a new step; if a retried or duplicated record wrote it first, that one.

        ``alongside`` (announcing the pause) runs with the index marker's write rather than after
        it: one round trip fewer on a cycle's path. Both are done when this returns; a retried
        record repeats both, and each is idempotent."""
        key = snapshot_key(snapshot.run_id, snapshot.snapshot_version)
        try:
            stored = Loaded(
                snapshot, await self.store.create(key, self.sealer.seal(key, encode_snapshot(snapshot)))
            )
        except PreconditionFailed:
            existing = await self.load(snapshot.run_id, snapshot.snapshot_version)
            assert existing is not None, f"{key} was created, then vanished"
            stored = existing
        if stored.snapshot.status == "pending" and self.index is not None:
            # After the pause, from what is stored: a retried step writes the same marker.
            # The announcement first: its publish is what the caller waits for.
            await _together(alongside(stored) if alongside else None, self._index_pause(stored.snapshot))
        elif alongside is not None:
            await alongside(stored)
        return stored

    async def _index_pause(self, snapshot: Snapshot) -> None:
        assert self.index is not None
        await self.index.mark(
            "pending", snapshot.created_at, snapshot.run_id, snapshot.snapshot_version, snapshot.request.tags
        )

    async def replace(self, loaded: Loaded, updated: Snapshot) -> Loaded:
        """Raises PreconditionFailed when the pause (or its claim) changed since ``loaded`` was
        read."""
        run_id, version = updated.run_id, updated.snapshot_version
        key = claim_key(run_id, version) if loaded.claimed else snapshot_key(run_id, version)
        etag = await self.store.replace(key, self.sealer.seal(key, encode_snapshot(updated)), loaded.etag)
        return Loaded(updated, etag, loaded.claimed)

    async def load_result(self, run_id: str) -> RunResult | None:
        key = result_key(run_id)
        stored = await self.store.get(key)
        return None if stored is None else self.open_result(run_id, stored.data)[0]

    def open_result(self, run_id: str, data: bytes) -> tuple[RunResult, bytes]:
        """The run's stored end and its body, once its seal is checked and it is shown to be
        this run's (TamperedSnapshotError otherwise)."""
        key = result_key(run_id)
        body = self.sealer.open(key, data)
        result = decode_run_result(body)
        if result.run_id != run_id:
            raise TamperedSnapshotError(key, f"holds the result of run {result.run_id!r}")
        return result, body

    async def create_result(
        self, result: RunResult, *, alongside: Callable[[RunResult], Awaitable[None]] | None = None
    ) -> RunResult:
        """Store the run's end; if another worker stored it first, theirs. ``alongside``
        (announcing the end) runs with the index marker's write, as in `create`."""
        key = result_key(result.run_id)
        if result.finished_at is None:
            result = msgspec.structs.replace(result, finished_at=self.clock())
        try:
            await self.store.create(key, self.sealer.seal(key, encode(result)))
        except PreconditionFailed:
            stored = await self.load_result(result.run_id)
            assert stored is not None, f"{key} was created, then vanished"
            result = stored
        await _together(alongside(result) if alongside else None, self.index_result(result))
        return result

    async def index_result(self, result: RunResult) -> None:
        """The run's end marker (one conditional create), stamped with the stored finish time."""
        if result.finished_at is None or self.index is None:
            return  # stored before the index existed, or no index is kept
        end = result.completed
        status: RunStatus = "completed" if isinstance(end, RunCompleted) else "failed"
        if isinstance(end, RunFailed) and end.code == "expired":
            status = "expired"
        await self.index.mark(status, result.finished_at, result.run_id, 0, end.tags)

    async def known(self, run_id: str) -> bool:
        return bool(await self.store.list(run_prefix(run_id)))

    async def following(self, snapshot: Snapshot) -> Loaded | RunResult | None:
        """The step that continued this pause, if one is stored: the next snapshot or the run's
        result, naming this pause's digest as its parent."""
        return (await self.beyond(snapshot))[0]

    async def beyond(self, snapshot: Snapshot) -> tuple[Loaded | RunResult | None, RunResult | None]:
        """The step that continued this pause (`following`) and the run's end if it has one,
        read side by side: one round trip."""
        following, result = await asyncio.gather(
            self.load(snapshot.run_id, snapshot.snapshot_version + 1), self.load_result(snapshot.run_id)
        )
        return _continuation(snapshot, following, result), result

    # -- deadlines --------------------------------------------------------------------------

    async def add_deadline(self, expires_at: datetime, run_id: str, version: int) -> None:
        with contextlib.suppress(PreconditionFailed):  # a retried pause wrote it already
            await self.store.create(expiry_key(expires_at, run_id, version), b"")

    async def drop_deadline(self, snapshot: Snapshot) -> None:
        """The pause is settled (resolved or expired): its deadline marker and its pending index
        marker go, and an expired pause marks its run expired (stamped with the deadline)."""
        request = snapshot.request
        if snapshot.expires_at is not None:
            if snapshot.status == "expired" and self.index is not None:
                await self.index.mark("expired", snapshot.expires_at, snapshot.run_id, 0, request.tags)
            await self.store.delete(
                expiry_key(snapshot.expires_at, snapshot.run_id, snapshot.snapshot_version)
            )
        if self.index is None:
            return
        await self.index.unmark(
            "pending", snapshot.created_at, snapshot.run_id, snapshot.snapshot_version, request.tags
        )

    async def deadlines(self, due_by: datetime) -> list[Deadline]:
        """Deadline markers up to ``due_by``, earliest first.

        Marker keys sort by deadline, so listing page by page and stopping at the first marker
        not yet due costs one request per thousand due markers, however many pauses are still
        waiting: a sweep's cost follows what is due, not what is outstanding."""
        due: list[Deadline] = []
        start_after = ""
        while True:
            keys = await self.store.list_page(EXPIRY_PREFIX, start_after=start_after, limit=_DEADLINE_PAGE)
            for key in keys:
                deadline, run_id, version = parse_expiry_key(key)
                if deadline > due_by:
                    return due
                due.append(Deadline(key=key, at=deadline, run_id=run_id, version=version))
            if len(keys) < _DEADLINE_PAGE:
                return due
            start_after = keys[-1]

    async def drop_marker(self, deadline: Deadline) -> None:
        await self.store.delete(deadline.key)


async def _together(*steps: Awaitable[object] | None) -> None:
    """Run ``steps`` concurrently and wait for every one, then raise the first failure as it
    is: the worker classifies typed errors (an outage is retried, not dead-lettered), which an
    ExceptionGroup would hide."""
    outcomes = await asyncio.gather(*(s for s in steps if s is not None), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


def check_claim(pause: Snapshot, claim: Snapshot) -> None:
    """A claim must be a copy of its pause (the digest covers everything but what a claim
    changes): one that is not was written by someone else than a worker."""
    if pause_digest(claim) != pause_digest(pause):
        key = claim_key(claim.run_id, claim.snapshot_version)
        raise TamperedSnapshotError(key, "is not a copy of the pause it claims")


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
