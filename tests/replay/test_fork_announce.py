"""A forked pause is announced as the worker announces every pause: resume tokens that the
inbox redeems, the trace context it was stored in (event field and record header), and the
fork's own run start. In-process (ServiceHarness, MemoryLog, local store) with the real inbox."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from intermission.replay import FORKED_FROM
from intermission.service.demo import app as demo
from intermission.service.runs.sealing import Sealer
from intermission.service.runs.snapshots import Snapshots
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_schemas import (
    TRACEPARENT_HEADER,
    GenerateRequest,
    InterruptRaised,
    Message,
    RunCompleted,
    RunFailed,
    TextPart,
    decode_approval,
)
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "inbox"))

from inbox_kit import inbox_client

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER = SpanContext(trace_id=TRACE_ID, span_id=0x00F067AA0BA902B7, is_remote=True, trace_flags=TraceFlags(1))


def transfer(run_id: str) -> GenerateRequest:
    return GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        messages=[Message(role="user", content=[TextPart(text="Transfer $1000")])],
        tools=["transferMoney"],
    )


def trace_id_of(traceparent: str) -> int:
    return int(traceparent.split("-")[1], 16)


def announced(service: ServiceHarness, run_id: str) -> list[tuple[InterruptRaised, dict[str, bytes]]]:
    """Every InterruptRaised of ``run_id`` on the approvals topic, with its record's headers."""
    records = service.log.topics[service.settings.topics.approvals]
    return [(decode_approval(r.value), dict(r.headers)) for r in records if r.key == run_id.encode()]


async def test_a_forked_pause_has_tokens_the_inbox_redeems_trace_context_and_its_run_start() -> None:
    settings = Settings(resume_token_secret=SecretStr("fork-token-secret"))
    async with ServiceHarness(demo.ai, settings=settings) as service:
        # The parent run was submitted inside a caller's trace, so its pause stored a context.
        with trace.use_span(NonRecordingSpan(CALLER)):
            await service.client.submit(transfer("parent"))
        parent = await service.interrupt("parent")
        assert parent.trace_context is not None
        assert parent.interrupts[0].token  # the worker's announcement, for comparison

        before = datetime.now(UTC)
        fork = await service.fork("parent", 1, new_run_id="parent.fork")  # fork_run, with the tokens
        [(raised, headers)] = announced(service, "parent.fork")
        assert raised == fork.raised
        assert raised.tags[FORKED_FROM] == "parent@1"

        # Tokens: one per pending ref, naming the fork's own run and pause.
        [pending] = raised.interrupts
        assert pending.token is not None
        tokens = settings.resume_tokens()
        assert tokens is not None
        claims = tokens.open(pending.token)
        assert (claims.run_id, claims.snapshot_version, claims.ref) == ("parent.fork", 1, pending.ref)

        # Trace context: a branch of the parent's trace, in the event and in the record's header.
        assert raised.trace_context is not None
        assert trace_id_of(raised.trace_context.traceparent) == TRACE_ID
        assert trace_id_of(headers[TRACEPARENT_HEADER].decode()) == TRACE_ID

        # The fork's pause records when the fork's run started.
        loaded = await Snapshots(service.store, Sealer(None)).load("parent.fork", 1)
        assert loaded is not None
        started = loaded.snapshot.run_started_at
        assert started is not None
        assert before <= started <= datetime.now(UTC)
        assert loaded.snapshot.trace_context == raised.trace_context

        # The token answers the forked pause through the inbox, and the fork runs to its end.
        async with inbox_client(service) as client:
            reply = await client.post(
                f"/api/answer/{pending.token}?wait=5", json={"resumed": {"status": "APPROVED"}}
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["outcome"] == "accepted", reply.text
        ended = await service.result("parent.fork")
        assert isinstance(ended, RunCompleted), ended
        assert "COMPLETED" in ended.text


async def test_a_fork_without_a_token_secret_is_announced_without_tokens() -> None:
    async with ServiceHarness(demo.ai) as service:
        await service.client.submit(transfer("plain"))
        await service.interrupt("plain")
        fork = await service.fork("plain", 1, new_run_id="plain.fork")
        assert [p.token for p in fork.raised.interrupts] == [None]
        loaded = await Snapshots(service.store, Sealer(None)).load("plain.fork", 1)
        assert loaded is not None
        assert loaded.snapshot.run_started_at == loaded.snapshot.created_at


async def test_a_request_reusing_a_forks_run_id_is_refused_not_run() -> None:
    """A new request finds nothing stored when it creates its first step's claim, and then
    looks nothing up; a fork stores its first step's claim too, so a request that reuses the
    fork's run id (another idempotency key) meets it, reads the fork's pause and is refused."""
    async with ServiceHarness(demo.ai) as service:
        await service.client.submit(transfer("original"))
        await service.interrupt("original")
        await service.fork("original", 1, new_run_id="reused")
        clash = transfer("reused")
        await service.client.submit(
            GenerateRequest(**{**msgspec.structs.asdict(clash), "idempotency_key": "other"})
        )
        ended = await service.result("reused")
        assert isinstance(ended, RunFailed), ended
        assert ended.code == "duplicate_run_id"
        assert len(announced(service, "reused")) == 1, "the fork's pause is announced once, by the fork"
