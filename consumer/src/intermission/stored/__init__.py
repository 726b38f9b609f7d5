"""Stored runs, read back: the public read side of what the worker stores.

The inbox, the replay tools and the command line read runs here, through the same checks the
worker makes before it trusts a stored object (the seal, that the object is the run's own step,
the chain of digests, rollbacks), instead of reaching into the worker's ``service/runs/``.

    runs = StoredRuns(store, Sealer(seal_key))
    page = await runs.list(status="pending", limit=50)   # the run index: keys only, never a run
    run = await runs.load(page.runs[0].run_id)            # every step and the result
    pause = await runs.pause(run.run_id, 1)               # one step (None when not stored)
    ended = await runs.result(run.run_id)                 # the run's end (None while it runs)
    audit = await runs.audit(run.run_id)                  # what ``intermission runs audit`` prints

A sealed object that fails its checks raises `TamperedSnapshotError`; an unreachable store,
`StoreUnavailableError`. Requests per call are in each method's docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from intermission_schemas import RunResult, Snapshot

from ..service.ports import SnapshotStore
from ..service.runs.audit import AuditedStep, RunAudit, audit_run
from ..service.runs.index import STATUSES, IndexEntry, RunStatus
from ..service.runs.lifecycle import Pause, as_read
from ..service.runs.sealing import Sealer
from ..service.runs.snapshots import Snapshots
from ._runs import (
    FORKED_FROM,
    REPLAY_LABEL,
    REPLAY_OF,
    Answer,
    RunPage,
    StoredRun,
    ToolCall,
    list_runs,
    load_run,
    tool_calls,
)

__all__ = [
    "FORKED_FROM",
    "REPLAY_LABEL",
    "REPLAY_OF",
    "STATUSES",
    "Answer",
    "AuditedStep",
    "IndexEntry",
    "RunAudit",
    "RunPage",
    "RunStatus",
    "Sealer",
    "StoredRun",
    "StoredRuns",
    "ToolCall",
    "list_runs",
    "load_run",
    "tool_calls",
]


class StoredRuns:
    """Reads the runs stored in ``store``, opening seals with ``sealer`` (the worker's key)."""

    def __init__(self, store: SnapshotStore, sealer: Sealer) -> None:
        self.store = store
        self.sealer = sealer
        self._snapshots = Snapshots(store, sealer)

    async def load(self, run_id: str) -> StoredRun:
        """Every stored step and the result: one LIST, then one GET per step and for the result.
        Empty (no steps, no result) when nothing of the run is stored."""
        return await load_run(self.store, self.sealer, run_id)

    async def pause(self, run_id: str, version: int) -> Snapshot | None:
        """Pause ``version`` (from 1), as it stands: one round trip of two GETs (the pause and
        its claim), and one more of two for a pause resuming (is its next step stored?)."""
        loaded = await self._snapshots.current(run_id, version)
        if loaded is None:
            return None
        if loaded.snapshot.status != "resuming":
            return loaded.snapshot
        following = await self._snapshots.following(loaded.snapshot)
        return as_read(Pause(snapshot=loaded.snapshot, continued=following is not None))

    async def result(self, run_id: str) -> RunResult | None:
        """The run's end and its final history: one GET."""
        return await self._snapshots.load_result(run_id)

    async def audit(self, run_id: str) -> RunAudit:
        """Every stored object of the run checked as the worker checks it: one LIST and one GET
        per object (steps, journal entries, claims)."""
        return await audit_run(self.store, self.sealer, run_id)

    async def list(
        self,
        *,
        status: RunStatus | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        tags: Mapping[str, str] | None = None,
        after: str = "",
        limit: int = 50,
    ) -> RunPage:
        """A page of the run index, oldest first per status; LIST requests only (one per page
        of one status without a tag filter; see `intermission.replay.list_runs`)."""
        return await list_runs(
            self.store, status=status, since=since, until=until, tags=tags, after=after, limit=limit
        )
