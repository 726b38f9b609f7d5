"""Taking over a claim whose owner died (issue 20 defect 1, issue 21 skew): the successor waits
as long as the lease says, measured by its own clock since it first saw the claim, never a
fixed number of tries; and an applied answer is never told "stale". Every wait runs on an
injected clock (issue 20): a production-sized lease passes in virtual time, not real time."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any

import pytest
from claim_kit import LEASE, PacedLooks, TakeoverTimes, owner_renews_while_waiter_looks
from fakeclock import Clock
from harness import Harness, approve
from intermission import Intermission, ScriptedModel, ToolContext, reply, tool_call
from intermission.service.runs import Runs
from intermission.service.runs.keys import claim_key, journal_claim_key
from intermission.service.wiring.settings import Settings
from intermission_producer import AnswerKey, build_resume
from intermission_schemas import GenerateRequest, Message, ResumeRejected, RunCompleted, TextPart
from pydantic import SecretStr
from test_fault_tolerance import GatedApp, _paused

# A waiter looks every 2 s of its own time at most: it takes over at a lease after its first
# look, or within one more look of it.
LATEST = LEASE + timedelta(seconds=2)


async def _dies_in_its_tool(work: Coroutine[Any, Any, None], app: GatedApp | SlowLookup) -> None:
    """Run ``work`` until its tool is entered, then kill it: the owner dies holding its claim,
    and never renews it again."""
    app.gate.clear()
    dying = asyncio.create_task(work)
    async with asyncio.timeout(10):
        await app.entered.wait()
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)
    app.gate.set()


async def _completed_unrejected(harness: Harness, run_id: str) -> RunCompleted:
    """The run's RunCompleted, with no answer rejected on the way (an applied one never is)."""
    done: RunCompleted = await harness.result(run_id, RunCompleted)
    assert not [r for r in harness.results if isinstance(r, ResumeRejected)]
    return done


async def _owner_working_and_a_waiter(
    harness: Harness, app: GatedApp, owner_clock: Clock
) -> tuple[str, asyncio.Task[None], PacedLooks, Runs, asyncio.Task[None]]:
    """A paused run whose answer an owner is working on (in its tool, at the gate), and a
    second worker on its own auto-advancing clock handling the same answer, waiting on the
    owner's claim, with its looks paced by the test."""
    run_id, ref = await _paused(harness, app)
    event = approve(run_id, ref)
    owner = harness.runs(ai=app.ai, owner="owner", lease=LEASE, clock=owner_clock)
    app.gate.clear()
    working = asyncio.create_task(owner.on_resume(event))
    async with asyncio.timeout(10):
        await app.entered.wait()
    looks = PacedLooks(harness.backend.store, claim_key(run_id, 1))
    second = harness.runs(ai=app.ai, owner="second", lease=LEASE, clock=Clock(auto=True), store=looks)
    waiting = asyncio.create_task(second.on_resume(event))
    await looks.waiting()
    return run_id, working, looks, second, waiting


@pytest.mark.parametrize(
    "backend", ["memory", pytest.param("real", marks=[pytest.mark.kafka, pytest.mark.s3])], indirect=True
)
async def test_a_dead_owners_claim_with_a_production_lease_is_taken_over_in_virtual_time(
    harness: Harness,
) -> None:
    """A 30 s lease, as deployed: the successor takes the pause over once 30 s have passed on
    its clock since it first saw the claim, never before, and within a few real seconds."""
    app = GatedApp()
    run_id, ref = await _paused(harness, app)
    event = approve(run_id, ref)
    doomed = harness.runs(ai=app.ai, owner="doomed", lease=LEASE, clock=Clock())
    await _dies_in_its_tool(doomed.on_resume(event), app)

    ours = Clock(auto=True)
    times = TakeoverTimes(harness.backend.store, claim_key(run_id, 1), ours)
    successor = harness.runs(ai=app.ai, owner="successor", lease=LEASE, clock=ours, store=times)
    started = time.monotonic()
    async with asyncio.timeout(20):
        await successor.on_resume(event)
    assert time.monotonic() - started < 10  # generous: a few event-loop turns per look
    assert LEASE <= times.waited() <= LATEST
    assert times.requests.count(("get", times.key)) > 8  # it kept looking (the old 8 tries)
    assert "COMPLETED" in (await _completed_unrejected(harness, run_id)).text
    assert len(set(app.calls)) == 1  # run again, under the same idempotency key


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
@pytest.mark.parametrize("owner_clock_ahead", [timedelta(0), timedelta(hours=1)], ids=["same", "skewed"])
async def test_an_abandoned_claim_is_taken_over_after_a_lease_seen_here(
    harness: Harness, owner_clock_ahead: timedelta
) -> None:
    app = GatedApp()
    run_id, ref = await _paused(harness, app)
    event = approve(run_id, ref)
    theirs, ours = Clock(), Clock(auto=True)
    theirs.now = ours.now + owner_clock_ahead
    doomed = harness.runs(ai=app.ai, owner="doomed", lease=LEASE, clock=theirs)
    await _dies_in_its_tool(doomed.on_resume(event), app)

    times = TakeoverTimes(harness.backend.store, claim_key(run_id, 1), ours)
    successor = harness.runs(ai=app.ai, owner="successor", lease=LEASE, clock=ours, store=times)
    async with asyncio.timeout(20):
        await successor.on_resume(event)
    # A whole lease seen here, whatever the owner's clock said; however often it looked before
    # (more than the old eight tries), it waited, and never rejected the applied answer.
    assert LEASE <= times.waited() <= LATEST
    assert times.requests.count(("get", times.key)) > 8
    assert "COMPLETED" in (await _completed_unrejected(harness, run_id)).text
    assert len(set(app.calls)) == 1  # run again, under the same idempotency key


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_a_renewing_owner_is_never_taken_over(harness: Harness) -> None:
    """The owner is alive and renews: each renewal is a new claim, so the wait starts again,
    and the successor never takes over, however long the owner works (here two leases of the
    successor's time)."""
    app, owner_clock = GatedApp(), Clock()
    run_id, working, looks, _second, waiting = await _owner_working_and_a_waiter(harness, app, owner_clock)
    await owner_renews_while_waiter_looks(owner_clock, looks)
    assert not waiting.done()
    app.gate.set()
    async with asyncio.timeout(20):
        await working  # before the waiter looks again: its clock would outrun the owner's work
        await looks.open()
        await waiting
    await _completed_unrejected(harness, run_id)
    assert len(app.calls) == 1


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_a_first_step_abandoned_by_an_owner_with_a_fast_clock_is_taken_over_after_a_lease(
    harness: Harness,
) -> None:
    """A first step is claimed in its journal; its owner's clock is an hour ahead, then it dies.
    The successor takes over after one lease on its own clock, not an hour."""
    app = SlowLookup()
    request = app.request(f"first-{uuid.uuid4().hex[:8]}")
    theirs, ours = Clock(), Clock(auto=True)
    theirs.now = ours.now + timedelta(hours=1)
    doomed = harness.runs(ai=app.ai, owner="doomed", lease=LEASE, clock=theirs)
    await _dies_in_its_tool(doomed.on_request(request), app)

    times = TakeoverTimes(harness.backend.store, journal_claim_key(request.run_id, 0), ours)
    successor = harness.runs(ai=app.ai, owner="successor", lease=LEASE, clock=ours, store=times)
    async with asyncio.timeout(20):
        await successor.on_request(request)
    assert LEASE <= times.waited() <= LATEST
    done = await harness.result(request.run_id, RunCompleted)
    assert done.text == "looked it up"
    assert app.calls == [f"{request.run_id}:0:lookup-1"] * 2  # cut off mid-call: once more, same key


class SlowLookup:
    """A first step whose tool waits at a gate."""

    def __init__(self) -> None:
        self.gate, self.entered = asyncio.Event(), asyncio.Event()
        self.calls: list[str | None] = []

        def model(request: Any) -> Any:
            if request.messages[-1].role == "tool":
                return reply("looked it up")
            return reply(tool_call("lookup", {"query": "balance"}, ref="lookup-1"))

        self.ai = Intermission(model=ScriptedModel(model))

        @self.ai.define_tool(name="lookup", description="Looks something up, slowly.")
        async def lookup(input: dict[str, Any], ctx: ToolContext) -> dict[str, object]:
            self.calls.append(ctx.idempotency_key)
            self.entered.set()
            await self.gate.wait()
            return {"balance": 42}

    def request(self, run_id: str) -> GenerateRequest:
        return GenerateRequest(
            run_id=run_id,
            idempotency_key=run_id,
            messages=[Message(role="user", content=[TextPart("what is my balance?")])],
            tools=["lookup"],
        )


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_a_waiter_that_is_cancelled_forgets_the_claims_it_watched(harness: Harness) -> None:
    """A worker waiting on another's claim keeps how long it has seen it; when its handling
    ends (here: cancelled, as on a rebalance or shutdown) the entry goes, or a long-lived worker
    would keep one per run that ever waited."""
    app = GatedApp()
    run_id, working, looks, second, waiting = await _owner_working_and_a_waiter(harness, app, Clock())
    await looks.allow(3)
    assert second._claims._watch._seen  # it is waiting, and watching the owner's claim
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    assert second._claims._watch._seen == {}
    app.gate.set()
    async with asyncio.timeout(20):
        await working
    await _completed_unrejected(harness, run_id)

    request = SlowLookup().request(f"first-{uuid.uuid4().hex[:8]}")
    lookup = SlowLookup()
    first = harness.runs(ai=lookup.ai, owner="first", lease=LEASE, clock=Clock())
    lookup.gate.clear()
    running = asyncio.create_task(first.on_request(request))
    async with asyncio.timeout(10):
        await lookup.entered.wait()
    journal = PacedLooks(harness.backend.store, journal_claim_key(request.run_id, 0))
    other = harness.runs(ai=lookup.ai, owner="other", lease=LEASE, clock=Clock(auto=True), store=journal)
    held_off = asyncio.create_task(other.on_request(request))
    await journal.allow(3)
    assert other._requests._watch._seen
    held_off.cancel()
    await asyncio.gather(held_off, return_exceptions=True)
    assert other._requests._watch._seen == {}
    lookup.gate.set()
    async with asyncio.timeout(20):
        await running


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_an_applied_signed_answer_whose_signature_expired_is_finished_not_refused(
    harness: Harness,
) -> None:
    """An applied answer is never rejected, however long its redelivery comes after it: not even
    when its signature has expired by then. It is decided on the pause's claim, not checked again."""
    app = GatedApp()
    run_id, _ = await _paused(harness, app)
    raised = next(a for a in harness.approvals if a.run_id == run_id)
    keys = Settings(answer_keys=SecretStr("ops=ops-secret"), require_signed_answers=True).answer_key_set()
    theirs = Clock()
    event = build_resume(
        raised,
        restart={raised.interrupts[0].ref: {"status": "APPROVED"}},
        answered_by="alice",
        signing_key=AnswerKey("ops", b"ops-secret"),
        now=theirs.now,
        valid_for=60,
    )
    doomed = harness.runs(ai=app.ai, owner="doomed", clock=theirs, answer_keys=keys)
    await _dies_in_its_tool(doomed.on_resume(event), app)
    ours = Clock(auto=True)
    ours.now = theirs.now + timedelta(minutes=5)  # the signature expired minutes ago
    successor = harness.runs(ai=app.ai, owner="successor", clock=ours, answer_keys=keys)
    async with asyncio.timeout(20):
        await successor.on_resume(event)
    assert "COMPLETED" in (await _completed_unrejected(harness, run_id)).text
