"""A worker on the in-memory log and the local store, observed: the metrics move by exactly
what was driven through it, and each lifecycle event is one log line with its fields."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from intermission.service import Settings, Worker, build_worker
from intermission.service.adapters.local import LocalSnapshotStore, MemoryLog
from intermission.service.observe import Metrics, Observation, Observers
from intermission.service.observe.events import RecordHandled
from intermission.service.observe.log_lines import FIELDS_ATTRIBUTE
from intermission.service.ports import Subscription
from intermission_schemas import (
    GenerateRequest,
    InterruptRaised,
    Message,
    RespondAnswer,
    RestartAnswer,
    ResumeRequested,
    TextPart,
    decode_approval,
    decode_result,
    encode,
)
from service_app import build


@dataclass
class Served:
    log: MemoryLog
    metrics: Metrics
    worker: Worker
    subscription: Subscription
    settings: Settings
    handled: HandledCount

    def value(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0

    async def submit(self, run_id: str, text: str, tools: list[str]) -> None:
        request = GenerateRequest(
            run_id=run_id,
            idempotency_key=run_id,
            messages=[Message(role="user", content=[TextPart(text)])],
            tools=tools,
        )
        await self.log.publish(self.settings.topics.requests, run_id, encode(request))

    async def answer(self, event: ResumeRequested) -> None:
        await self.log.publish(self.settings.topics.resumes, event.run_id, encode(event))

    async def approval(self, run_id: str, answered: int = 0) -> InterruptRaised:
        def found() -> InterruptRaised | None:
            for record in self.log.topics[self.settings.topics.approvals]:
                event = decode_approval(record.value)
                if event.run_id == run_id and len(event.answered) == answered:
                    return event
            return None

        async with asyncio.timeout(10), self.log.changed:
            await self.log.changed.wait_for(lambda: found() is not None)
        event = found()
        assert event is not None
        return event

    async def results(self, count: int) -> None:
        async with asyncio.timeout(10), self.log.changed:
            await self.log.changed.wait_for(
                lambda: len(self.log.topics[self.settings.topics.results]) >= count
            )


class HandledCount:
    """An observer beside the metrics: wakes the test when enough records were handled."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    def observe(self, event: Observation) -> None:
        if isinstance(event, RecordHandled):
            self.count += 1
            self.changed.set()

    async def reach(self, count: int) -> None:
        async with asyncio.timeout(10):
            while self.count < count:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    settings = Settings()
    log = MemoryLog()
    metrics = Metrics()
    ai, _ = build()
    handled = HandledCount()
    store = LocalSnapshotStore(tmp_path)
    worker = build_worker(settings, store=store, publisher=log, ai=ai, observer=Observers(metrics, handled))
    t = settings.topics
    subscription = log.subscribe([t.requests, t.resumes], "workers")
    running = asyncio.create_task(worker.run(subscription))
    try:
        yield Served(log, metrics, worker, subscription, settings, handled)
    finally:
        worker.stop()
        await subscription.close()
        await asyncio.wait_for(running, 10)


async def test_counters_and_histograms_move_by_what_was_driven(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="intermission.runs")
    t = served.settings.topics
    # A transfer that pauses once, approved; two questions answered one at a time (a partial
    # answer); an unknown ref (rejected); a tool the app lacks (failed); bytes that are no event.
    await served.submit("r-transfer", "transfer", ["transferMoney"])
    await served.submit("r-questions", "two questions", ["askQuestion"])
    await served.submit("r-ghost", "ghost", [])
    await served.log.publish(t.requests, "r-garbage", b"not json")
    transfer = await served.approval("r-transfer")
    questions = await served.approval("r-questions")
    await served.answer(
        ResumeRequested(
            run_id="r-transfer",
            resume_id="bad-ref",
            snapshot_version=1,
            respond=[RespondAnswer(ref="nope", output="x")],
            answered_by="mallory",
        )
    )
    await served.answer(
        ResumeRequested(
            run_id="r-transfer",
            resume_id="approve-transfer",
            snapshot_version=1,
            restart=[RestartAnswer(ref=transfer.interrupts[0].ref, resumed={"status": "APPROVED"})],
            answered_by="alice",
        )
    )
    first, second = (p.ref for p in questions.interrupts)
    await served.answer(
        ResumeRequested(
            run_id="r-questions",
            resume_id="q-1",
            snapshot_version=1,
            respond=[RespondAnswer(ref=first, output="Saturday")],
            answered_by="bob",
        )
    )
    await served.approval("r-questions", answered=1)
    await served.answer(
        ResumeRequested(
            run_id="r-questions",
            resume_id="q-2",
            snapshot_version=1,
            respond=[RespondAnswer(ref=second, output="tacos")],
            answered_by="carol",
        )
    )
    # results: RunFailed(ghost), ResumeRejected, RunCompleted x2
    await served.results(4)
    await served.handled.reach(8)

    v = served.value
    assert v("intermission_records_handled_total", topic=t.requests, outcome="done") == 3
    assert v("intermission_records_handled_total", topic=t.requests, outcome="dead_letter") == 1
    assert v("intermission_records_handled_total", topic=t.resumes, outcome="done") == 4
    assert v("intermission_record_duration_seconds_count", topic=t.resumes, outcome="done") == 4
    assert v("intermission_records_in_flight") == 0
    assert v("intermission_runs_started_total") == 3
    assert v("intermission_interrupts_raised_total") == 3
    assert v("intermission_partial_answers_total") == 1
    assert v("intermission_resumes_total") == 2
    assert v("intermission_interrupts_resolved_total", outcome="restarted") == 1
    assert v("intermission_interrupts_resolved_total", outcome="responded") == 2
    assert v("intermission_resume_rejections_total", reason="unknown_ref") == 1
    assert v("intermission_dead_letters_total", reason="undecodable") == 1
    assert v("intermission_runs_completed_total") == 2
    assert v("intermission_runs_failed_total", code="unknown_tool") == 1
    # Whole runs, measured from the first step across their pauses: both paused runs, the ghost.
    assert v("intermission_run_duration_seconds_count", outcome="completed") == 2
    assert v("intermission_run_duration_seconds_count", outcome="failed") == 1
    # The scripted model: transfer 2 calls, questions 2, ghost 1 (it asks for a tool it lacks).
    assert v("intermission_model_call_duration_seconds_count", outcome="ok") == 5
    tool_calls = "intermission_tool_call_duration_seconds_count"
    assert v(tool_calls, tool="transferMoney", outcome="interrupted") == 1
    assert v(tool_calls, tool="transferMoney", outcome="ok") == 1
    # Outcomes: 2 approvals + 1 republished partial + 4 results + 1 dead letter.
    publishes = sum(
        v("intermission_publish_duration_seconds_count", topic=topic, outcome="ok")
        for topic in (t.approvals, t.results, t.dead_letter)
    )
    assert publishes == 8
    assert v("intermission_store_operation_duration_seconds_count", operation="create", outcome="ok") > 0
    assert v("intermission_dependency_up", dependency="store") == 1

    lines = [r for r in caplog.records if r.name == "intermission.runs"]
    events = [getattr(r, FIELDS_ATTRIBUTE)["event"] for r in lines]
    for expected, count in [
        ("run requested", 3),
        ("run paused", 2),
        ("partial answer", 1),
        ("run resumed", 2),
        ("resume rejected", 1),
        ("run completed", 2),
        ("run failed", 1),
        ("record dead-lettered", 1),
    ]:
        assert events.count(expected) == count, (expected, events)
    resumed = next(r for r in lines if getattr(r, FIELDS_ATTRIBUTE)["event"] == "run resumed")
    fields = getattr(resumed, FIELDS_ATTRIBUTE)
    assert fields["run_id"] in {"r-transfer", "r-questions"}
    assert fields["snapshot_version"] == 1
    assert fields["resume_id"] in {"approve-transfer", "q-2"}
    assert "run_id=" in resumed.getMessage()
    assert "resume_id=" in resumed.getMessage()
    decoded = [decode_result(r.value) for r in served.log.topics[t.results]]
    assert len(decoded) == 4


async def test_lag_of_the_memory_log_is_what_was_not_taken(tmp_path: Path) -> None:
    log = MemoryLog()
    for i in range(3):
        await log.publish("requests", f"k{i}", b"x")
    subscription = log.subscribe(["requests"], "group")
    [lag] = await subscription.lag()  # type: ignore[attr-defined]
    assert (lag.topic, lag.partition, lag.lag) == ("requests", 0, 3)
    records = subscription.records()
    await anext(records)
    [lag] = await subscription.lag()  # type: ignore[attr-defined]
    assert lag.lag == 2
    await subscription.close()
