"""Batch replay tools, as an async API: list and inspect stored runs, fork a run from a pause,
replay runs against another app or model, read and re-drive dead letters, submit in bulk.

The command line (``intermission runs|replay|dlq|submit``) is a thin layer over these.

    from intermission.replay import list_runs, load_run, Replay, fork_run

    page = await list_runs(store, status="completed", since=yesterday, limit=50)
    run = await load_run(store, sealer, page.runs[0].run_id)
    summary = await Replay(source=store, sealer=sealer, ai=app, target=scratch,
                           label="new-prompt", model="gemini-3-flash").run(ids)
"""

from ..service.runs.audit import FORKED_FROM
from ..stored import (
    REPLAY_LABEL,
    REPLAY_OF,
    Answer,
    IndexEntry,
    RunPage,
    RunStatus,
    StoredRun,
    ToolCall,
    list_runs,
    load_run,
)
from ._dlq import DeadLetterEntry, RedriveCounts, read_dead_letters, redrive, set_fields
from ._fork import Fork, fork_run, start_from_pause
from ._html import render_report
from ._replay import EffectBlockedError, Replay, ReplayReport, ReplaySummary, replay_run_id
from ._submit import load_requests, submit_many

__all__ = [
    "FORKED_FROM",
    "REPLAY_LABEL",
    "REPLAY_OF",
    "Answer",
    "DeadLetterEntry",
    "EffectBlockedError",
    "Fork",
    "IndexEntry",
    "RedriveCounts",
    "Replay",
    "ReplayReport",
    "ReplaySummary",
    "RunPage",
    "RunStatus",
    "StoredRun",
    "ToolCall",
    "fork_run",
    "list_runs",
    "load_requests",
    "load_run",
    "read_dead_letters",
    "redrive",
    "render_report",
    "replay_run_id",
    "set_fields",
    "start_from_pause",
    "submit_many",
]
