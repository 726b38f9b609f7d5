"""The SDK refuses, before publishing, every event the worker would dead-letter: an event built
in Python skips msgspec's constraints, so the SDK decodes what it would send with the worker's
own decoder. Nothing reaches the log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hostile import doubling, nested
from intermission.service.adapters.local import MemoryLog
from intermission_producer import ClientUsageError, IntermissionClient, build_resume
from intermission_schemas import (
    ExpiryPolicy,
    GenerateRequest,
    InterruptRaised,
    PendingInterrupt,
    RestartAnswer,
    ResumeRequested,
    SnapshotRef,
    ToolDefinition,
    Topics,
)


def _ask(schema: dict[str, Any]) -> list[ToolDefinition]:
    return [ToolDefinition(name="ask", description="", output_schema=schema)]


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("dotdot", {"reply_to": ".."}, "invalid_fields"),
    ("dot", {"reply_to": "."}, "invalid_fields"),
    ("internal", {"reply_to": "__consumer_offsets"}, "invalid_fields"),
    ("expiry", {"expiry": ExpiryPolicy(after_seconds=1e300)}, "invalid_fields"),
    ("nesting", {"input": nested(70)}, "invalid_fields"),
    ("loop", {"interrupts": _ask({"$ref": "#"})}, "schema_too_complex"),
    ("doubling", {"interrupts": _ask(doubling(30))}, "schema_too_complex"),
    ("bad-run-id", {"run_id": "run id with spaces"}, "invalid_fields"),
]


@pytest.mark.parametrize(("name", "fields", "reason"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
async def test_submit_refuses_what_the_worker_would_dead_letter(
    name: str, fields: dict[str, Any], reason: str
) -> None:
    log = MemoryLog()
    topics = Topics()
    request = GenerateRequest(**{"run_id": name, "idempotency_key": name, **fields})
    async with IntermissionClient(transport=log, topics=topics) as client:
        with pytest.raises(ClientUsageError) as caught:
            await client.submit(request)
        with pytest.raises(ClientUsageError):
            await client.replay([request])
    assert caught.value.reason == reason
    assert not log.topics[topics.requests]


RAISED = InterruptRaised(
    run_id="run-1",
    snapshot=SnapshotRef(key="runs/run-1/snapshots/00000001", version=1, sha256="0" * 64),
    interrupts=[PendingInterrupt(ref="go", tool="go", restartable=True)],
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


@pytest.mark.parametrize(
    "options",
    [
        {"resume_id": "bad id"},
        {"resume_id": "x" * 129},
        {"answered_by": "a" * 257},
        {"restart": {"go": nested(70)}},
        {"replace_input": {"go": nested(70)}},
    ],
)
async def test_resume_refuses_what_the_worker_would_dead_letter(options: dict[str, Any]) -> None:
    log = MemoryLog()
    topics = Topics()
    arguments: dict[str, Any] = {"restart": {"go": {"ok": True}}, "answered_by": "alice", **options}
    with pytest.raises(ClientUsageError) as caught:
        build_resume(RAISED, **arguments)
    assert caught.value.reason == "invalid_fields"
    async with IntermissionClient(transport=log, topics=topics) as client:
        with pytest.raises(ClientUsageError):
            await client.resume(RAISED, **arguments)
        recorded = ResumeRequested(
            run_id="run-1",
            resume_id="bad id",
            snapshot_version=1,
            restart=[RestartAnswer(ref="go")],
        )
        with pytest.raises(ClientUsageError):
            await client.replay([recorded])
    assert not log.topics[topics.resumes]
