"""The service's promises, each checked on the in-memory backend and on real Kafka + SeaweedFS."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from fakeclock import Clock
from harness import Harness
from intermission.service import Sealer, snapshot_key
from intermission_schemas import (
    ExpiryPolicy,
    GenerateRequest,
    RespondAnswer,
    RestartAnswer,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    ToolDefinition,
)


def _run_id() -> str:
    return f"run-{uuid.uuid4().hex[:10]}"


def _approve(run_id: str, ref: str, version: int = 1, **fields: object) -> ResumeRequested:
    return ResumeRequested(
        run_id=run_id,
        resume_id=str(fields.pop("resume_id", uuid.uuid4().hex)),
        snapshot_version=version,
        restart=[RestartAnswer(ref=ref, resumed={"status": "APPROVED"})],
        answered_by=str(fields.pop("answered_by", "alice")),
    )


async def _stored_status(h: Harness, run_id: str, version: int = 1) -> str:
    """The pause's status as it stands (read as the inbox and the CLI read it)."""
    from intermission.stored import StoredRuns

    pause = await StoredRuns(h.backend.store, Sealer(b"test-key")).pause(run_id, version)
    assert pause is not None
    return pause.status


async def test_pause_publishes_interrupt_with_form_contract(harness: Harness) -> None:
    worker = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "review", tools=["review"])
    raised = await harness.approval(run_id)
    await worker.stop()
    [pending] = raised.interrupts
    assert pending.tool == "review"
    assert pending.input == {"document": "contract.pdf"}
    assert pending.output_schema is not None
    assert "decision" in pending.output_schema["properties"]
    assert pending.restartable is False
    assert raised.snapshot.key == snapshot_key(run_id, 1)
    assert len(raised.snapshot.sha256) == 64
    assert await _stored_status(harness, run_id) == "pending"


async def test_resume_on_a_different_worker_completes(harness: Harness) -> None:
    first = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    await first.stop()
    # A new engine instance and a new worker: nothing carries over but the store.
    from service_app import build

    other_ai, other_transfers = build()
    second = await harness.start_worker(ai=other_ai)
    await harness.send(harness.backend.topics.resumes, run_id, _approve(run_id, raised.interrupts[0].ref))
    done = await harness.result(run_id, RunCompleted)
    await second.stop()
    assert "COMPLETED" in done.text
    assert other_transfers == [{"toAccountId": "ABC123", "amount": 100000}]
    assert await _stored_status(harness, run_id) == "resolved"


async def test_a_prompt_run_keeps_its_model_output_schema_and_config_across_resumes(
    harness: Harness,
) -> None:
    worker = await harness.start_worker()
    run_id = _run_id()
    request = GenerateRequest(run_id=run_id, idempotency_key=run_id, prompt="planner", input={"guests": 8})
    await harness.send(harness.backend.topics.requests, run_id, request)
    for version, answer in [(1, "Sunday"), (2, "tacos")]:
        raised = await harness.approval(run_id, version)
        [pending] = raised.interrupts
        assert pending.tool == "askQuestion"
        resume = ResumeRequested(
            run_id=run_id,
            resume_id=uuid.uuid4().hex,
            snapshot_version=version,
            respond=[RespondAnswer(ref=pending.ref, output=answer)],
            answered_by="alice",
        )
        await harness.send(harness.backend.topics.resumes, run_id, resume)
    done = await harness.result(run_id, RunCompleted)
    await worker.stop()
    assert done.output == {"day": "Sunday", "food": "tacos", "plannedBy": "planner-model"}, done.text


def _announced(h: Harness, run_id: str) -> list[int]:
    return [a.snapshot.version for a in h.approvals if a.run_id == run_id]


async def test_an_old_answer_redelivered_announces_no_pause_that_was_answered_since(harness: Harness) -> None:
    """A redelivered answer to pause 1 finds its step stored and announces it again (its worker
    may have stopped before publishing it), but not once pause 2, that step, was answered: an
    approval view would show it waiting again."""
    worker = await harness.start_worker()
    run_id = _run_id()
    request = GenerateRequest(run_id=run_id, idempotency_key=run_id, prompt="planner", input={"guests": 8})
    await harness.send(harness.backend.topics.requests, run_id, request)
    answers: list[ResumeRequested] = []
    for version, answer in [(1, "Sunday"), (2, "tacos")]:
        [pending] = (await harness.approval(run_id, version)).interrupts
        answers.append(
            ResumeRequested(
                run_id=run_id,
                resume_id=uuid.uuid4().hex,
                snapshot_version=version,
                respond=[RespondAnswer(ref=pending.ref, output=answer)],
                answered_by="alice",
            )
        )
        if version == 1:
            await harness.send(harness.backend.topics.resumes, run_id, answers[0])
            await harness.approval(run_id, 2)
            # Redelivered while pause 2 is open: pause 2 is announced again, and nothing else.
            await harness.send(harness.backend.topics.resumes, run_id, answers[0])
            await harness.wait_for(lambda: _announced(harness, run_id).count(2) == 2)
    await harness.send(harness.backend.topics.resumes, run_id, answers[1])
    await harness.result(run_id, RunCompleted)
    # Both redelivered once more, after pause 2 was answered and the run ended: the answer to
    # pause 2 announces the end again; the answer to pause 1 finds pause 2 taken, and announces
    # nothing (the worker finishes what it fetched before it stops).
    await harness.send(harness.backend.topics.resumes, run_id, answers[0])
    await harness.send(harness.backend.topics.resumes, run_id, answers[1])
    await harness.result(run_id, RunCompleted, count=2)
    await worker.stop()
    assert _announced(harness, run_id) == [1, 2, 2]
    assert not [r for r in harness.results if isinstance(r, ResumeRejected) and r.run_id == run_id]


async def test_a_repeated_resume_is_applied_once_and_a_late_one_is_rejected_stale(harness: Harness) -> None:
    from service_app import build

    ai, transfers = build()
    worker = await harness.start_worker(ai=ai)
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    ref = raised.interrupts[0].ref
    resume = _approve(run_id, ref, resume_id="once")
    for event in (resume, resume, _approve(run_id, ref, resume_id="late")):
        await harness.send(harness.backend.topics.resumes, run_id, event)
    await harness.result(run_id, RunCompleted)
    # The same resume id again is a redelivery of an applied answer: never rejected. The later
    # resume, behind it on the same partition, is rejected as stale.
    stale = await harness.result(run_id, ResumeRejected)
    await worker.stop()
    assert (stale.resume_id, stale.reason) == ("late", "stale")
    assert [r.resume_id for r in harness.results if isinstance(r, ResumeRejected)] == ["late"]
    assert len(transfers) == 1


async def test_concurrent_resumes_on_two_workers_resolve_once(harness: Harness) -> None:
    from service_app import build

    worker = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    await worker.stop()
    ref = raised.interrupts[0].ref
    (ai_a, transfers_a), (ai_b, transfers_b) = build(), build()
    runs_a, runs_b = harness.runs(ai=ai_a), harness.runs(ai=ai_b)
    await asyncio.gather(
        runs_a.on_resume(_approve(run_id, ref, resume_id="a")),
        runs_b.on_resume(_approve(run_id, ref, resume_id="b")),
    )
    await harness.result(run_id, RunCompleted)
    rejected = await harness.result(run_id, ResumeRejected)
    assert rejected.reason in ("stale", "duplicate")
    assert len(transfers_a) + len(transfers_b) == 1


async def test_invalid_output_is_rejected_and_the_pause_stays_open(harness: Harness) -> None:
    worker = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "review", tools=["review"])
    raised = await harness.approval(run_id)
    ref = raised.interrupts[0].ref

    def answer(output: object, resume_id: str) -> ResumeRequested:
        return ResumeRequested(
            run_id=run_id,
            resume_id=resume_id,
            snapshot_version=1,
            respond=[RespondAnswer(ref=ref, output=output)],
            answered_by="bob",
        )

    await harness.send(
        harness.backend.topics.resumes, run_id, answer({"decision": "maybe", "note": "?"}, "r1")
    )
    rejected = await harness.result(run_id, ResumeRejected)
    assert rejected.reason == "invalid_output"
    assert rejected.field == "decision"
    assert await _stored_status(harness, run_id) == "pending"
    await harness.send(
        harness.backend.topics.resumes, run_id, answer({"decision": "accept", "note": "ok"}, "r2")
    )
    done = await harness.result(run_id, RunCompleted)
    await worker.stop()
    assert "accept" in done.text


async def test_partial_resumes_from_two_approvers(harness: Harness) -> None:
    worker = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "two questions", tools=["askQuestion"])
    raised = await harness.approval(run_id)
    first, second = (p.ref for p in raised.interrupts)
    for ref, answer, who in ((first, "Saturday", "alice"), (second, "tacos", "bob")):
        event = ResumeRequested(
            run_id=run_id,
            resume_id=f"{who}-1",
            snapshot_version=1,
            respond=[RespondAnswer(ref=ref, output=answer)],
            answered_by=who,
        )
        await harness.send(harness.backend.topics.resumes, run_id, event)
        if who == "alice":
            progress = await harness.approval(run_id, answered=1)
            assert progress.answered == [first]
    done = await harness.result(run_id, RunCompleted)
    await worker.stop()
    assert "Saturday" in done.text
    assert "tacos" in done.text


async def test_unknown_run_unknown_ref_and_unauthorized(harness: Harness) -> None:
    worker = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"], approvers=["alice"])
    raised = await harness.approval(run_id)
    resumes = harness.backend.topics.resumes
    await harness.send(resumes, "ghost-run", _approve("ghost-run", "x"))
    await harness.send(resumes, run_id, _approve(run_id, "no-such-ref"))
    await harness.send(resumes, run_id, _approve(run_id, raised.interrupts[0].ref, answered_by="mallory"))
    ghost = await harness.result("ghost-run", ResumeRejected)
    reasons = [(await harness.result(run_id, ResumeRejected, count=n)).reason for n in (1, 2)]
    await worker.stop()
    assert ghost.reason == "unknown_run"
    assert reasons == ["unknown_ref", "unauthorized"]


async def test_inline_interrupt_needs_no_code(harness: Harness) -> None:
    worker = await harness.start_worker()
    run_id = _run_id()
    refund = ToolDefinition(
        name="approveRefund",
        description="a human approves refunds",
        input_schema={"type": "object", "properties": {"orderId": {"type": "string"}}},
        output_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
    )
    await harness.submit(run_id, "inline", interrupts=[refund])
    raised = await harness.approval(run_id)
    assert raised.interrupts[0].output_schema == refund.output_schema
    answer = ResumeRequested(
        run_id=run_id,
        resume_id="r",
        snapshot_version=1,
        respond=[RespondAnswer(ref=raised.interrupts[0].ref, output={"ok": True})],
    )
    await harness.send(harness.backend.topics.resumes, run_id, answer)
    done = await harness.result(run_id, RunCompleted)
    await worker.stop()
    assert "'ok': True" in done.text


async def test_duplicate_request_does_not_run_twice(harness: Harness) -> None:
    from service_app import build

    ai, _ = build()
    worker = await harness.start_worker(ai=ai)
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    await harness.approval(run_id)
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    await harness.wait_for(lambda: len([a for a in harness.approvals if a.run_id == run_id]) == 2)
    await harness.submit(run_id, "transfer", tools=["transferMoney"], idempotency_key="other")
    failed = await harness.result(run_id, RunFailed)
    await worker.stop()
    assert failed.code == "duplicate_run_id"
    # Each delivery asks the model before it meets the first one's claim (which its first reply
    # would have been written with); the later replies are discarded, and nothing else ran.
    assert len(ai.model.requests) == 3  # type: ignore[union-attr]
    first, again = (a for a in harness.approvals if a.run_id == run_id)
    assert first.snapshot == again.snapshot


async def test_bad_input_goes_to_dead_letters_and_the_partition_moves_on(harness: Harness) -> None:
    worker = await harness.start_worker()
    topics = harness.backend.topics
    bad = [
        b"\xff not json",
        b'{"type": "LaunchRockets", "runId": "x"}',
        b'{"type": "GenerateRequest", "runId": 7, "idempotencyKey": "k"}',
        b'{"type": "GenerateRequest", "runId": "big", "idempotencyKey": "k", "tags": {"x": "'
        + b"y" * 100_000
        + b'"}}',
    ]
    for value in bad:
        await harness.backend.publish_raw(topics.requests, "bad", value)
    run_id = _run_id()
    await harness.submit(run_id, "ghost", tools=["noSuchTool"])
    ok = _run_id()
    await harness.submit(ok, "hello")
    done = await harness.result(ok, RunCompleted)
    unknown_tool = await harness.result(run_id, RunFailed)
    await harness.wait_for(lambda: len(harness.dead_letters) == 4)
    await worker.stop()
    assert done.text == "echo: hello"
    assert unknown_tool.code == "unknown_tool"
    assert [d.reason for d in harness.dead_letters] == [
        "undecodable",
        "unknown_event",
        "invalid_fields",
        "oversized",
    ]
    assert harness.dead_letters[0].value == bad[0]
    assert harness.dead_letters[0].topic == topics.requests


async def test_expired_pause_rejects_late_answers_and_fails_the_run(harness: Harness) -> None:
    clock = Clock()
    worker = await harness.start_worker(clock=clock)
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"], expiry=ExpiryPolicy(after_seconds=60))
    raised = await harness.approval(run_id)
    assert raised.expires_at is not None
    clock.now += timedelta(hours=2)
    await harness.send(harness.backend.topics.resumes, run_id, _approve(run_id, raised.interrupts[0].ref))
    rejected = await harness.result(run_id, ResumeRejected)
    failed = await harness.result(run_id, RunFailed)
    await worker.stop()
    assert rejected.reason == "expired"
    assert failed.code == "expired"
    assert await _stored_status(harness, run_id) == "expired"


async def test_expiry_policy_respond_continues_with_the_default(harness: Harness) -> None:
    clock = Clock()
    worker = await harness.start_worker(clock=clock)
    run_id = _run_id()
    policy = ExpiryPolicy(after_seconds=60, on_expiry="respond", default_output="Saturday")
    await harness.submit(run_id, "two questions", tools=["askQuestion"], expiry=policy)
    raised = await harness.approval(run_id)
    clock.now += timedelta(hours=2)
    late = ResumeRequested(
        run_id=run_id,
        resume_id="late",
        snapshot_version=1,
        respond=[RespondAnswer(ref=raised.interrupts[0].ref, output="Sunday")],
    )
    await harness.send(harness.backend.topics.resumes, run_id, late)
    done = await harness.result(run_id, RunCompleted)
    await worker.stop()
    assert done.text == "done: ['Saturday', 'Saturday']"


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_tampered_snapshot_is_not_resumed(harness: Harness) -> None:
    worker = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    key = snapshot_key(run_id, 1)
    stored = await harness.backend.store.get(key)
    assert stored is not None
    forged = stored.data.replace(b"100000", b"900000")
    await harness.backend.store.replace(key, forged, stored.etag)
    await harness.send(harness.backend.topics.resumes, run_id, _approve(run_id, raised.interrupts[0].ref))
    await harness.wait_for(lambda: harness.dead_letters)
    failed = await harness.result(run_id, RunFailed)
    await worker.stop()
    assert harness.dead_letters[0].reason == "tampered"
    assert "seal" in harness.dead_letters[0].detail
    assert failed.code == "tampered"
    assert not [r for r in harness.results if isinstance(r, RunCompleted)]


@pytest.mark.parametrize("policy", ["reject", "respond"])
async def test_the_sweep_expires_a_pause_nobody_answered(harness: Harness, policy: str) -> None:
    clock = Clock()
    worker = await harness.start_worker(clock=clock)
    run_id = _run_id()
    expiry = ExpiryPolicy(after_seconds=60, on_expiry=policy, default_output="Saturday")  # type: ignore[arg-type]
    await harness.submit(run_id, "two questions", tools=["askQuestion"], expiry=expiry)
    await harness.approval(run_id)
    sweeper = harness.runs(clock=clock)
    assert await sweeper.sweep_expired() == 0  # not due yet
    clock.now += timedelta(minutes=2)
    assert await sweeper.sweep_expired() == 1
    assert await sweeper.sweep_expired() == 0  # each pause expires once
    if policy == "reject":
        failed = await harness.result(run_id, RunFailed)
        assert failed.code == "expired"
        assert await _stored_status(harness, run_id) == "expired"
    else:
        done = await harness.result(run_id, RunCompleted)
        assert done.text == "done: ['Saturday', 'Saturday']"
    await worker.stop()
    assert await harness.backend.store.list("expiries/") == []


async def test_audit_follows_the_chain_and_finds_a_rewritten_step(harness: Harness) -> None:
    from intermission.service import audit_run

    worker = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    await harness.send(harness.backend.topics.resumes, run_id, _approve(run_id, raised.interrupts[0].ref))
    await harness.result(run_id, RunCompleted)
    await worker.stop()
    sealer = Sealer(b"test-key")
    audit = await audit_run(harness.backend.store, sealer, run_id)
    assert audit.intact, audit.problem
    assert [(s.version, s.status) for s in audit.steps] == [(1, "resolved"), (0, "RunCompleted")]
    assert audit.steps[1].parent_sha256 == audit.steps[0].sha256

    # Someone holding the key rewrites the pause: the seal holds, the chain does not.
    key = snapshot_key(run_id, 1)
    stored = await harness.backend.store.get(key)
    assert stored is not None
    body = stored.data.partition(b"\n")[2].replace(b"100000", b"900000")
    await harness.backend.store.replace(key, sealer.seal(key, body), stored.etag)
    broken = await audit_run(harness.backend.store, sealer, run_id)
    assert not broken.intact
    # Its claim, created when it was answered, is a copy of the pause as it was.
    assert "is not a copy of the pause it claims" in (broken.problem or "")
    # Without the key, a rewrite cannot even be sealed.
    forged = await audit_run(harness.backend.store, Sealer(b"another-key"), run_id)
    assert "seal" in (forged.problem or "")


async def test_a_record_whose_worker_dies_mid_flight_is_handled_by_the_next(harness: Harness) -> None:
    from harness import GatedStore

    gated = GatedStore(harness.backend.store)
    doomed = await harness.start_worker(store=gated)
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    async with asyncio.timeout(30):
        await gated.reached.wait()  # the worker is inside the record, before its snapshot write
    await doomed.kill()
    assert not [a for a in harness.approvals if a.run_id == run_id]

    successor = await harness.start_worker()  # same group: it resumes from the last commit
    raised = await harness.approval(run_id)
    await successor.stop()
    assert raised.snapshot.version == 1
    stored = await harness.backend.store.list(f"runs/{run_id}/")
    assert [key for key in stored if "/journal/" not in key] == [snapshot_key(run_id, 1)]
