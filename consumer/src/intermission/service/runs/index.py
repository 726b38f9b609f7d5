"""The run index: one empty marker per run state, so that listing runs reads keys, never objects.

    index/{status}/{stamp}/{run_id}~{version}[~{tag codes}]

``status`` is ``pending`` (one marker per open pause, ``version`` its number), ``completed``,
``failed`` or ``expired`` (one marker per run end, version 0). ``stamp`` is UTC with fixed width
(``20261201T174500.123456Z``), so a time range of one status is one contiguous key range that
S3 lists from ``start_after`` on: a page of up to 1,000 runs is one ListObjectsV2 request
however many runs are stored. The stamp comes from what is stored (a pause's ``created_at``, a
result's ``finished_at``, an expired pause's deadline), so a retried step writes the same key.
The tag codes are the first 8 hex digits of sha256("key=value") for each of the request's tags
(up to 64), so a tag filter is checked on the listed key alone, with no read of the run.

What it costs the worker: a pause adds one conditional create (its pending marker) and, when
the pause is settled, one delete; a run's end adds one conditional create. Markers are written
after the object they stand for, so a marker never names a step that is not stored; a crash in
between leaves the marker to the retried record (same key), or, for a settled pause, a stale
pending marker that ``runs show`` tells apart (the snapshot's own status is the truth).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncGenerator, Mapping
from datetime import datetime, timedelta
from typing import Literal

import msgspec

from ..ports import PreconditionFailed, SnapshotStore
from .keys import parse_stamp, stamp

__all__ = [
    "INDEX_PREFIX",
    "STATUSES",
    "IndexEntry",
    "RunIndex",
    "RunStatus",
    "index_key",
    "parse_index_key",
    "tag_code",
]

RunStatus = Literal["pending", "completed", "failed", "expired"]
STATUSES: tuple[RunStatus, ...] = ("pending", "completed", "failed", "expired")
INDEX_PREFIX = "index/"
_MAX_TAGS = 64
PAGE = 1000  # S3's largest page


def tag_code(key: str, value: str) -> str:
    return hashlib.sha256(f"{key}={value}".encode()).hexdigest()[:8]


def index_key(
    status: RunStatus, at: datetime, run_id: str, version: int, tags: Mapping[str, str] | None = None
) -> str:
    leaf = f"{run_id}~{version}"
    codes = sorted(tag_code(k, v) for k, v in (tags or {}).items())[:_MAX_TAGS]
    if codes:
        leaf += "~" + ".".join(codes)
    return f"{INDEX_PREFIX}{status}/{stamp(at)}/{leaf}"


class IndexEntry(msgspec.Struct, frozen=True, kw_only=True):
    key: str  # also the cursor to pass as ``after`` for the next page
    status: RunStatus
    at: datetime
    run_id: str
    version: int  # the pause, for pending; 0 for an end
    tag_codes: frozenset[str]

    def has_tags(self, tags: Mapping[str, str]) -> bool:
        return all(tag_code(k, v) in self.tag_codes for k, v in tags.items())


def parse_index_key(key: str) -> IndexEntry:
    status, stamp_text, leaf = key[len(INDEX_PREFIX) :].split("/")
    run_id, version, *codes = leaf.split("~")
    if status not in STATUSES:
        raise ValueError(f"not an index key: {key!r}")
    return IndexEntry(
        key=key,
        status=status,  # checked just above
        at=parse_stamp(stamp_text),
        run_id=run_id,
        version=int(version),
        tag_codes=frozenset(codes[0].split(".")) if codes else frozenset(),
    )


class RunIndex:
    def __init__(self, store: SnapshotStore) -> None:
        self.store = store

    async def mark(
        self, status: RunStatus, at: datetime, run_id: str, version: int, tags: Mapping[str, str]
    ) -> None:
        """One conditional create; an existing marker (a retried step) is fine."""
        with contextlib.suppress(PreconditionFailed):
            await self.store.create(index_key(status, at, run_id, version, tags), b"")

    async def unmark(
        self, status: RunStatus, at: datetime, run_id: str, version: int, tags: Mapping[str, str]
    ) -> None:
        await self.store.delete(index_key(status, at, run_id, version, tags))

    async def scan(
        self,
        statuses: tuple[RunStatus, ...] = STATUSES,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        after: str = "",
        page: int = PAGE,
    ) -> AsyncGenerator[IndexEntry, None]:
        """Entries of ``statuses`` (in that order), each status oldest first, from the cursor
        ``after`` (an entry's key) on. Each ListObjectsV2 request reads ``page`` keys; a
        consumer that stops early stops the requests."""
        for status in statuses:
            prefix = f"{INDEX_PREFIX}{status}/"
            # Just before the first key at ``since``: the last possible key a microsecond
            # earlier. (Not the bare stamp: SeaweedFS reads a StartAfter that names a "folder"
            # of keys as past the whole folder.)
            start = prefix + stamp(since - timedelta(microseconds=1)) + "~" if since is not None else ""
            if after:
                if after < prefix:
                    pass
                elif after.startswith(prefix):
                    start = max(start, after)
                else:
                    continue  # the cursor is past this status
            end = prefix + stamp(until) if until is not None else None
            while True:
                keys = await self.store.list_page(prefix, start_after=start, limit=page)
                for key in keys:
                    if end is not None and key >= end:
                        break
                    entry = parse_index_key(key)
                    if tags and not entry.has_tags(tags):
                        continue
                    yield entry
                else:
                    if len(keys) == page:
                        start = keys[-1]
                        continue
                break
