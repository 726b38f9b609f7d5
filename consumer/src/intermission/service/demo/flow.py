"""The embedded default: the whole flow on one machine with nothing to install.

request -> worker -> interrupt on the approvals topic -> an approver answers -> worker resumes
-> result. The worker, the engine and the snapshot logic are the production ones; only the
transport (an in-process log) and the store (a local directory) differ.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from intermission_producer import answer_headers
from intermission_schemas import (
    ExpiryPolicy,
    GenerateRequest,
    InterruptRaised,
    Message,
    RestartAnswer,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    TextPart,
    decode_approval,
    decode_result,
    encode,
)

from ..._app import Intermission
from ..adapters.local import LocalSnapshotStore, MemoryLog
from ..wiring.compose import build_worker
from ..wiring.settings import Settings

Say = Callable[[str], None]
Decide = Callable[[InterruptRaised], bool]


async def run_demo(
    *,
    ai: Intermission | None = None,
    directory: Path | None = None,
    decide: Decide = lambda _: True,
    say: Say = print,
    time_limit: float = 30.0,
) -> RunCompleted | RunFailed:
    """Run one transfer through pause and approval; returns the run's final event."""
    from . import app as demo_app

    settings = Settings()
    topics = settings.topics
    log = MemoryLog()
    with tempfile.TemporaryDirectory(prefix="intermission-demo-") as scratch:
        store = LocalSnapshotStore(directory or Path(scratch))
        worker = build_worker(settings, store=store, publisher=log, ai=ai or demo_app.ai)
        inbox = log.subscribe([topics.requests, topics.resumes], settings.group_id)
        approvals = log.subscribe([topics.approvals], "demo-approver")
        results = log.subscribe([topics.results], "demo-caller")
        serving = asyncio.create_task(worker.run(inbox))
        try:
            async with asyncio.timeout(time_limit):
                return await _flow(log, topics.requests, topics.resumes, approvals, results, decide, say)
        finally:
            await inbox.close()
            await approvals.close()
            await results.close()
            await asyncio.gather(serving, return_exceptions=True)


async def _flow(
    log: MemoryLog,
    requests_topic: str,
    resumes_topic: str,
    approvals: Any,
    results: Any,
    decide: Decide,
    say: Say,
) -> RunCompleted | RunFailed:
    run_id = f"demo-{uuid.uuid4().hex[:8]}"
    request = GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        messages=[Message(role="user", content=[TextPart("Transfer $1000 to account ABC123")])],
        tools=["transferMoney"],
        expiry=ExpiryPolicy(after_seconds=3600),
        tags={"source": "intermission demo"},
    )
    await log.publish(requests_topic, run_id, encode(request))
    say(f"1. submitted run {run_id}: 'Transfer $1000 to account ABC123' with tool transferMoney")

    async for record in approvals.records():
        raised = decode_approval(record.value)
        await approvals.commit(record)
        if raised.run_id == run_id:
            break
    for pending in raised.interrupts:
        say(
            f"2. paused at snapshot v{raised.snapshot.version} (sha256 {raised.snapshot.sha256[:12]}…): "
            f"{pending.tool}({pending.input}) asks {pending.metadata}"
        )
    approved = decide(raised)
    status = "APPROVED" if approved else "REJECTED"
    answer = ResumeRequested(
        run_id=run_id,
        resume_id=uuid.uuid4().hex,
        snapshot_version=raised.snapshot.version,
        restart=[RestartAnswer(ref=p.ref, resumed={"status": status}) for p in raised.interrupts],
        answered_by="demo-approver",
        pause_digest=raised.snapshot.sha256,
    )
    await log.publish(resumes_topic, run_id, encode(answer), answer_headers(raised))  # joins the run's trace
    say(f"3. approver answered {status}; any worker may resume it from the snapshot")

    async for record in results.records():
        event = decode_result(record.value)
        await results.commit(record)
        if event.run_id == run_id and isinstance(event, RunCompleted | RunFailed):
            say(f"4. result: {event.text if isinstance(event, RunCompleted) else event.message}")
            return event
    raise RuntimeError("the results topic closed before the run finished")
