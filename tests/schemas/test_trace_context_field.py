"""The trace context added to the stored pause and to InterruptRaised follows the evolution
rules: documents written before it decode (as no context), documents with it round-trip, and a
reader that predates it ignores it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec
from intermission_schemas import (
    GenerateRequest,
    InterruptRaised,
    PausedGeneration,
    Snapshot,
    SnapshotRef,
    TraceContext,
    decode_approval,
    decode_snapshot,
    encode,
)

CONTEXT = TraceContext(
    traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", tracestate="vendor=x"
)
WHEN = datetime(2026, 11, 1, tzinfo=UTC)


def snapshot(trace_context: TraceContext | None) -> Snapshot:
    return Snapshot(
        run_id="r1",
        snapshot_version=1,
        status="pending",
        request=GenerateRequest(run_id="r1", idempotency_key="r1"),
        paused=PausedGeneration(messages=[], interrupts=[]),
        created_at=WHEN,
        trace_context=trace_context,
    )


def raised(trace_context: TraceContext | None) -> InterruptRaised:
    return InterruptRaised(
        run_id="r1",
        snapshot=SnapshotRef(key="runs/r1/snapshots/00000001", version=1, sha256="0" * 64),
        interrupts=[],
        created_at=WHEN,
        trace_context=trace_context,
    )


def test_a_snapshot_stored_before_tracing_decodes_without_a_context() -> None:
    document = json.loads(encode(snapshot(CONTEXT)))
    del document["traceContext"]
    assert decode_snapshot(json.dumps(document).encode()).trace_context is None


def test_a_snapshot_keeps_its_trace_context() -> None:
    data = encode(snapshot(CONTEXT))
    assert json.loads(data)["traceContext"] == {
        "traceparent": CONTEXT.traceparent,
        "tracestate": "vendor=x",
    }
    assert decode_snapshot(data).trace_context == CONTEXT


def test_an_empty_tracestate_is_left_out() -> None:
    only_parent = TraceContext(traceparent=CONTEXT.traceparent)
    assert json.loads(encode(only_parent)) == {"traceparent": CONTEXT.traceparent}


def test_interrupt_raised_carries_the_context_and_older_events_decode() -> None:
    assert decode_approval(encode(raised(CONTEXT))).trace_context == CONTEXT
    document = json.loads(encode(raised(CONTEXT)))
    del document["traceContext"]
    assert decode_approval(json.dumps(document).encode()).trace_context is None


def test_a_reader_that_predates_the_field_ignores_it() -> None:
    class OlderSnapshot(msgspec.Struct, rename="camel", kw_only=True):
        run_id: str
        snapshot_version: int

    older = msgspec.json.decode(encode(snapshot(CONTEXT)), type=OlderSnapshot)
    assert (older.run_id, older.snapshot_version) == ("r1", 1)
