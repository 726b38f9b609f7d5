"""Stored runs, read back: one run's chain of steps, and pages of the run index.

Requests to the store, per call:

- ``list_runs``: ListObjectsV2 requests only, never a read of a run. One status with no tag
  filter: exactly one request per page of up to 1,000 runs, wherever the page starts and
  however many runs are stored, since a time bound or a cursor is S3's ``StartAfter``. No
  status given: one request per status the page reaches (at most four). A tag filter is
  checked on the listed keys: ceil(scanned / 1000) requests, where ``scanned`` counts the
  markers of the status and time range read until the page is full. A first page that comes
  back empty adds two LISTs of one key, to tell "nothing matches" from "no index is written"
  (`Settings.run_index` is off: SettingsError).
- ``load_run``: one LIST of ``runs/{id}/`` and one GET per stored snapshot, per claim and for the
  result.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from intermission_schemas import (
    Message,
    RunCompleted,
    RunFailed,
    RunResult,
    Snapshot,
    ToolRequestPart,
    ToolResponsePart,
)

from ..errors import SettingsError
from ..service.ports import SnapshotStore
from ..service.runs.index import INDEX_PREFIX, STATUSES, IndexEntry, RunIndex, RunStatus
from ..service.runs.keys import claim_key, result_key, run_prefix, snapshot_key
from ..service.runs.lifecycle import Pause, as_read
from ..service.runs.sealing import Sealer, pause_digest
from ..service.runs.snapshots import Snapshots, check_claim

__all__ = [
    "FORKED_FROM",
    "REPLAY_LABEL",
    "REPLAY_OF",
    "Answer",
    "RunPage",
    "StoredRun",
    "ToolCall",
    "list_runs",
    "load_run",
]

# Tags that link a run to the run it came from.
from ..service.runs.audit import FORKED_FROM

REPLAY_OF = "intermission.replayOf"  # the original run id
REPLAY_LABEL = "intermission.replay"  # the replay's label


class RunPage(msgspec.Struct, frozen=True, kw_only=True):
    runs: list[IndexEntry]
    next_cursor: str | None  # pass as ``after`` for the next page; None at the end


async def list_runs(
    store: SnapshotStore,
    *,
    status: RunStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    tags: Mapping[str, str] | None = None,
    after: str = "",
    limit: int = 50,
) -> RunPage:
    """One page of the run index, oldest first within each status (see the module's costs).

    ``since``/``until`` bound the time a run entered the status (paused, finished, expired)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    statuses = (status,) if status is not None else STATUSES
    # Without a tag filter every listed key counts, so a page of ``limit`` asks S3 for no more.
    page = 1000 if tags else min(1000, limit)
    found: list[IndexEntry] = []
    scan = RunIndex(store).scan(statuses, since=since, until=until, tags=tags, after=after, page=page)
    async for entry in scan:
        found.append(entry)
        if len(found) == limit:
            break
    await scan.aclose()
    if not found and not after and await _unindexed(store):
        raise SettingsError(
            "INTERMISSION_RUN_INDEX",
            "runs are stored here but none is in the run index: the workers of this bucket do not"
            " write it. Set INTERMISSION_RUN_INDEX=true on every worker to list the runs they store"
            " from then on; a run is still read by its id (`runs show`).",
        )
    # A full page may be the last one: the next call then returns an empty page (one request).
    return RunPage(runs=found, next_cursor=found[-1].key if len(found) == limit else None)


async def _unindexed(store: SnapshotStore) -> bool:
    """Runs are stored and the index holds no marker at all: nobody writes it. (Two LISTs of one
    key each, only when a first page comes back empty.)"""
    index, runs = await asyncio.gather(
        store.list_page(INDEX_PREFIX, start_after="", limit=1),
        store.list_page("runs/", start_after="", limit=1),
    )
    return not index and bool(runs)


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded answer to one question of a pause."""

    version: int
    ref: str
    tool: str
    input: Any
    answered_by: str
    resume_id: str
    respond: Any = None  # the output, for a respond
    restart: bool = False
    resumed: Any = None
    replace_input: Any = None
    replaces_input: bool = False


class ToolCall(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    input: Any
    ref: str | None = None
    output: Any = None
    answered: bool = False  # a response is in the history


class StoredRun(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    snapshots: list[Snapshot]
    result: RunResult | None

    @property
    def status(self) -> str:
        if self.result is not None:
            end = self.result.completed
            if isinstance(end, RunFailed):
                return "expired" if end.code == "expired" else "failed"
            return "completed"
        if not self.snapshots:
            return "unknown"
        last = self.snapshots[-1].status
        return "expired" if last == "expired" else "pending" if last in {"pending", "resuming"} else last

    @property
    def request(self) -> Any:
        return self.snapshots[0].request if self.snapshots else None

    @property
    def messages(self) -> list[Message]:
        """The longest history stored: the result's, else the last pause's."""
        if self.result is not None and self.result.messages:
            return list(self.result.messages)
        return list(self.snapshots[-1].paused.messages) if self.snapshots else []

    def answers(self) -> list[Answer]:
        """Every recorded answer, pause by pause, in each pause's order of questions."""
        found: list[Answer] = []
        for snapshot in self.snapshots:
            for part in snapshot.paused.interrupts:
                ref = part.tool_request.ref or ""
                collected = snapshot.answers.get(ref)
                if collected is None:
                    continue
                restart = collected.restart
                found.append(
                    Answer(
                        version=snapshot.snapshot_version,
                        ref=ref,
                        tool=part.tool_request.name,
                        input=part.tool_request.input,
                        answered_by=collected.answered_by,
                        resume_id=collected.resume_id,
                        respond=collected.respond.output if collected.respond is not None else None,
                        restart=restart is not None,
                        resumed=restart.resumed if restart is not None else None,
                        replace_input=restart.replace_input if restart is not None else None,
                        replaces_input=restart.replaces_input if restart is not None else False,
                    )
                )
        return found

    def tool_calls(self) -> list[ToolCall]:
        """Every tool request of the history, with the output its response recorded."""
        return tool_calls(self.messages)

    @property
    def outcome(self) -> RunCompleted | RunFailed | None:
        return self.result.completed if self.result is not None else None


def tool_calls(messages: list[Message]) -> list[ToolCall]:
    """Every tool request with its recorded output. A response answers the first request before
    it with the same name and ref not yet answered, as Genkit pairs them (a model may send no
    ref, so a name alone can recur)."""
    waiting: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    calls: list[ToolCall] = []
    for message in messages:
        for part in message.content:
            if isinstance(part, ToolRequestPart):
                request = part.tool_request
                waiting[(request.name, request.ref)].append(len(calls))
                calls.append(ToolCall(name=request.name, input=request.input, ref=request.ref))
            elif isinstance(part, ToolResponsePart):
                response = part.tool_response
                queue = waiting.get((response.name, response.ref))
                if queue:
                    index = queue.pop(0)
                    calls[index] = msgspec.structs.replace(
                        calls[index], output=response.output, answered=True
                    )
    return calls


async def load_run(store: SnapshotStore, sealer: Sealer, run_id: str) -> StoredRun:
    """The run's snapshots (seals checked) and result; empty when nothing is stored."""
    snapshots = Snapshots(store, sealer)
    keys = set(await store.list(run_prefix(run_id)))
    found: list[Snapshot] = []
    version = 1
    while snapshot_key(run_id, version) in keys:
        loaded = await snapshots.load(run_id, version)
        if loaded is None:
            break
        snapshot = loaded.snapshot
        if claim_key(run_id, version) in keys and (claim := await snapshots.claim_if_open(run_id, version)):
            check_claim(snapshot, claim.snapshot)
            snapshot = claim.snapshot  # the pause as its answer took it
        found.append(snapshot)
        version += 1
    result = await snapshots.load_result(run_id) if result_key(run_id) in keys else None
    last = pause_digest(found[-1]) if found else None
    continued = [True] * (len(found) - 1) + [result is not None and result.parent_sha256 == last]
    read = [as_read(Pause(snapshot=s, continued=c)) for s, c in zip(found, continued, strict=False)]
    return StoredRun(run_id=run_id, snapshots=read, result=result)
