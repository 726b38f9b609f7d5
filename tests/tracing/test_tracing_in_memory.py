"""One run is one trace: the producer's submit, the worker's request handling, the pause, the
approver's answer, the resumed step and the result, on the in-memory log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from intermission.service.tracing import resuming
from intermission.testing import ServiceHarness
from intermission_producer import answer_headers, build_resume
from intermission_schemas import (
    GenerateRequest,
    InterruptRaised,
    Message,
    RunCompleted,
    RunFailed,
    TextPart,
    TraceContext,
    decode_snapshot,
    encode,
)
from opentelemetry import trace
from recorded_spans import ancestors, named, one
from span_recording import Spans
from tracing_app import ai

HERE = Path(__file__).resolve().parent


def request(run_id: str, text: str, tool: str) -> GenerateRequest:
    return GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        messages=[Message(role="user", content=[TextPart(text=text)])],
        tools=[tool],
    )


def approve(raised: InterruptRaised) -> dict[str, object]:
    return {raised.interrupts[0].ref: {"status": "APPROVED"}}


def span_id_of(context: TraceContext | None) -> str:
    assert context is not None
    return context.traceparent.split("-")[2]


async def test_a_run_is_one_trace_from_submit_through_pause_and_answer_to_result(spans: Spans) -> None:
    async with ServiceHarness(ai) as service:
        await service.client.submit(request("t1", "transfer", "transferMoney"))
        raised = await service.interrupt("t1")
        await service.client.restart(raised, approve(raised), answered_by="al")
        assert isinstance(await service.result("t1"), RunCompleted)
        log = service.log
    recorded = spans.finished()

    assert len({span.trace_id for span in recorded}) == 1, sorted({(s.trace_id, s.name) for s in recorded})
    submit = one(recorded, "send intermission.requests")
    assert submit.parent_id is None
    assert (submit.kind, submit.attributes["messaging.system"]) == ("PRODUCER", "kafka")
    handled = one(recorded, "process intermission.requests")
    assert (handled.parent_id, handled.kind) == (submit.span_id, "CONSUMER")
    # The pause keeps the context of the span it paused in, and InterruptRaised shows it.
    assert span_id_of(raised.trace_context) == handled.span_id
    assert one(recorded, "send intermission.approvals").parent_id == handled.span_id

    answer = one(recorded, "send intermission.resumes")
    assert answer.parent_id == handled.span_id
    answer_handled = one(recorded, "process intermission.resumes")
    assert answer_handled.parent_id == answer.span_id
    resumed = one(recorded, "resume run")
    assert resumed.parent_id == handled.span_id  # the stored context, not the answer's record
    assert resumed.links == (answer_handled.span_id,)
    assert resumed.attributes == {"intermission.run_id": "t1", "intermission.snapshot.version": 1}
    result = one(recorded, "send intermission.results")
    assert ancestors(result, recorded)[:1] == ["resume run"]

    chats = named(recorded, "chat")
    assert [ancestors(chat, recorded)[0] for chat in chats] == ["process intermission.requests", "resume run"]
    assert chats[0].attributes["gen_ai.operation.name"] == "chat"
    tools = named(recorded, "execute_tool transferMoney")
    assert [t.attributes.get("intermission.tool.paused") for t in tools] == [True, None]
    assert tools[0].attributes["gen_ai.tool.name"] == "transferMoney"
    assert tools[0].attributes["gen_ai.tool.call.id"] == raised.interrupts[0].ref
    writes = named(recorded, "store create")
    assert {"runs/t1/snapshots", "runs/t1"} <= {w.attributes["intermission.store.key_prefix"] for w in writes}
    assert all(w.status == "UNSET" for w in recorded)

    # The records carry the context in W3C headers.
    [approval] = log.topics["intermission.approvals"]
    [completed] = log.topics["intermission.results"]
    for record in (approval, completed):
        headers = dict(record.headers)
        assert headers["traceparent"].decode().split("-")[1] == submit.trace_id


async def test_the_stored_pause_keeps_the_trace_context(spans: Spans) -> None:
    async with ServiceHarness(ai) as service:
        await service.client.submit(request("t2", "transfer", "transferMoney"))
        raised = await service.interrupt("t2")
        stored = await service.store.get(raised.snapshot.key)
    assert stored is not None
    body = stored.data.split(b"\n", 1)[1]  # after the seal line
    assert decode_snapshot(body).trace_context == raised.trace_context


async def test_an_answer_published_with_answer_headers_joins_the_run_trace(spans: Spans) -> None:
    async with ServiceHarness(ai) as service:
        await service.client.submit(request("t3", "transfer", "transferMoney"))
        raised = await service.interrupt("t3")
        event = build_resume(raised, restart=approve(raised), answered_by="b")
        await service.log.publish("intermission.resumes", "t3", encode(event), answer_headers(raised))
        assert isinstance(await service.result("t3"), RunCompleted)
    recorded = spans.finished()
    assert len({span.trace_id for span in recorded}) == 1
    handled = one(recorded, "process intermission.resumes")
    assert handled.parent_id == span_id_of(raised.trace_context)


async def test_an_approver_with_its_own_trace_is_linked_not_lost(spans: Spans) -> None:
    async with ServiceHarness(ai) as service:
        await service.client.submit(request("t4", "transfer", "transferMoney"))
        raised = await service.interrupt("t4")
        with trace.get_tracer("approver").start_as_current_span("approver request") as own:
            await service.client.restart(raised, approve(raised), answered_by="c")
        await service.result("t4")
    recorded = spans.finished()
    answer = one(recorded, "send intermission.resumes")
    assert answer.trace_id == one(recorded, "send intermission.requests").trace_id
    assert answer.links == (f"{own.get_span_context().span_id:016x}",)


async def test_failures_mark_their_spans(spans: Spans) -> None:
    async with ServiceHarness(ai) as service:
        await service.client.submit(request("t5", "break", "brokenTool"))
        assert isinstance(await service.result("t5"), RunFailed)
    recorded = spans.finished()
    tool = one(recorded, "execute_tool brokenTool")
    assert tool.status == "ERROR"
    handled = one(recorded, "process intermission.requests")
    assert handled.status == "ERROR"
    assert one(recorded, "send intermission.results").status == "UNSET"


async def test_a_pause_stored_before_tracing_resumes_under_the_current_span(spans: Spans) -> None:
    with trace.get_tracer("test").start_as_current_span("handling") as outer, resuming(None, "old", 1):
        pass
    resumed = one(spans.finished(), "resume run")
    assert resumed.parent_id == f"{outer.get_span_context().span_id:016x}"
    assert resumed.links == ()


_WITHOUT_AN_SDK = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
import intermission
assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported with the engine"
from intermission.testing import ServiceHarness
from intermission_schemas import GenerateRequest, Message, TextPart, encode
from tracing_app import ai

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

async def main():
    async with ServiceHarness(ai) as service:
        request = GenerateRequest(run_id="n1", idempotency_key="n1", tools=["transferMoney"],
                                  messages=[Message(role="user", content=[TextPart(text="transfer")])])
        headers = [("traceparent", PARENT.encode())]
        await service.log.publish("intermission.requests", "n1", encode(request), headers)
        raised = await service.interrupt("n1")
        [approval] = service.log.topics["intermission.approvals"]
        # No SDK and no context: the worker skips its spans, and nothing invents a context.
        await service.log.publish("intermission.requests", "n2", encode(
            GenerateRequest(run_id="n2", idempotency_key="n2", tools=["transferMoney"],
                            messages=[Message(role="user", content=[TextPart(text="transfer")])])))
        bare = await service.interrupt("n2")
        await service.client.restart(bare, {bare.interrupts[0].ref: {"status": "APPROVED"}}, answered_by="a")
        done = await service.result("n2")
        unheaded = [r for t in ("intermission.approvals", "intermission.results")
                    for r in service.log.topics[t] if r.key in ("n2", b"n2")]
    # No SDK: no span is recorded, yet the context that came in goes on unchanged.
    assert raised.trace_context.traceparent == PARENT, raised.trace_context
    assert dict(approval.headers)["traceparent"] == PARENT.encode(), approval.headers
    assert bare.trace_context is None, bare.trace_context
    assert type(done).__name__ == "RunCompleted", done
    assert len(unheaded) == 2 and all("traceparent" not in dict(r.headers) for r in unheaded), unheaded
    from intermission._tracing import model_call_span
    with model_call_span() as span:
        assert span is None
    print("ok")

asyncio.run(main())
"""


def test_without_an_sdk_nothing_is_recorded_and_the_context_still_travels() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT_AN_SDK, str(HERE)], capture_output=True, text=True, check=False
    )
    assert out.stdout.strip() == "ok", out.stderr[-3000:]
