"""A fork is a branch of its parent run's trace: its "fork run" span continues the context the
parent paused in, the fork's pause stores that span's context and its announcement is sent
inside it; the fork's own answer then resumes in the same trace."""

from __future__ import annotations

from intermission.testing import ServiceHarness
from intermission_schemas import GenerateRequest, Message, RunCompleted, TextPart
from recorded_spans import named, one
from span_recording import Spans
from tracing_app import ai


async def test_a_fork_continues_the_parents_trace_from_the_pause_it_forks(spans: Spans) -> None:
    async with ServiceHarness(ai) as service:
        request = GenerateRequest(
            run_id="t-parent",
            idempotency_key="t-parent",
            messages=[Message(role="user", content=[TextPart(text="transfer")])],
            tools=["transferMoney"],
        )
        await service.client.submit(request)
        parent = await service.interrupt("t-parent")
        assert parent.trace_context is not None
        approve = {parent.interrupts[0].ref: {"status": "APPROVED"}}
        fork = await service.fork("t-parent", 1, new_run_id="t-fork", restart=approve, answered_by="al")
        assert isinstance(await service.result("t-fork"), RunCompleted)
    recorded = spans.finished()

    parent_pause = parent.trace_context.traceparent.split("-")
    forked = one(recorded, "fork run")
    assert (forked.trace_id, forked.parent_id) == (parent_pause[1], parent_pause[2])
    assert forked.attributes == {"intermission.run_id": "t-fork", "intermission.forked_from": "t-parent@1"}
    # The fork's pause stores the fork span's context, and InterruptRaised carries it.
    assert fork.raised.trace_context is not None
    assert fork.raised.trace_context.traceparent.split("-")[2] == forked.span_id
    sends = [s for s in named(recorded, "send intermission.approvals") if s.parent_id == forked.span_id]
    assert len(sends) == 1
    # The fork's answer resumes the fork in the same trace, from the fork's pause.
    resumed = [s for s in named(recorded, "resume run") if s.attributes["intermission.run_id"] == "t-fork"]
    assert [(s.trace_id, s.parent_id) for s in resumed] == [(forked.trace_id, forked.span_id)]
