"""Claims, leases, the journal, tampering and outages: each on the in-memory backend and on real
Kafka + SeaweedFS, with workers that are explicit objects (no processes; tests/faults has those).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from claim_kit import LEASE, PacedLooks, owner_renews_while_waiter_looks
from fakeclock import Clock
from harness import Harness, RealBackend, approve
from intermission import Intermission, ScriptedModel, ToolContext
from intermission.errors import StoreUnavailableError
from intermission.service import Record, Sealer, Topics, snapshot_key
from intermission.service.runs.keys import claim_key, journal_claim_key
from intermission_schemas import (
    ResumeRejected,
    RunCompleted,
    RunFailed,
)
from pydantic import BaseModel
from realservices import S3Service
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket
from service_app import scripted


class Transfer(BaseModel):
    toAccountId: str
    amount: int


class Query(BaseModel):
    query: str


class GatedApp:
    """transferMoney that waits at a gate once approved, and records every call and effect.

    ``effects`` is what an outside payments system that honours idempotency keys would do."""

    def __init__(self) -> None:
        self.ai = Intermission(model=ScriptedModel(scripted))
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()
        self.calls: list[str | None] = []  # idempotency key of every approved call
        self.effects: dict[str, Any] = {}

        @self.ai.define_tool(name="transferMoney", description="Transfers money.")
        async def transfer_money(input: Transfer, ctx: ToolContext) -> dict[str, object]:
            resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
            if resumed.get("status") != "APPROVED":
                ctx.interrupt({"message": "confirm"})
            self.calls.append(ctx.idempotency_key)
            self.entered.set()
            await self.gate.wait()
            assert ctx.idempotency_key is not None
            self.effects.setdefault(ctx.idempotency_key, input.model_dump())
            return {"status": "COMPLETED"}


def _run_id() -> str:
    return f"run-{uuid.uuid4().hex[:10]}"


async def _paused(harness: Harness, app: GatedApp) -> tuple[str, str]:
    worker = await harness.start_worker(ai=app.ai)
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    await worker.stop()
    return run_id, raised.interrupts[0].ref


async def test_a_redelivered_resume_waits_for_the_live_owner_and_runs_nothing(harness: Harness) -> None:
    app, owner_clock = GatedApp(), Clock()
    run_id, ref = await _paused(harness, app)
    first = harness.runs(ai=app.ai, owner="first", lease=LEASE, clock=owner_clock)
    event = approve(run_id, ref)
    app.gate.clear()
    owner = asyncio.create_task(first.on_resume(event))
    async with asyncio.timeout(10):
        await app.entered.wait()
    # The same record, redelivered to another worker after a rebalance, while the owner runs
    # the tool for longer than a lease of the second worker's time: renewals keep the claim,
    # the second worker waits.
    looks = PacedLooks(harness.backend.store, claim_key(run_id, 1))  # the pause's claim
    second = harness.runs(ai=app.ai, owner="second", lease=LEASE, clock=Clock(auto=True), store=looks)
    redelivered = asyncio.create_task(second.on_resume(event))
    await owner_renews_while_waiter_looks(owner_clock, looks)
    assert not redelivered.done()
    app.gate.set()
    async with asyncio.timeout(20):
        await owner  # before the waiter looks again: its clock would outrun the owner's work
        await looks.open()
        await redelivered
    await harness.result(run_id, RunCompleted)
    assert len(app.calls) == 1
    assert not [r for r in harness.results if isinstance(r, ResumeRejected)]


async def test_a_lapsed_claim_is_taken_over_and_finished_work_is_not_repeated(harness: Harness) -> None:
    app = GatedApp()
    run_id, ref = await _paused(harness, app)
    doomed = harness.runs(ai=app.ai, owner="doomed", lease=LEASE)
    event = approve(run_id, ref)
    # The owner dies after the tool's effect, before the tool returned: the tool is unfinished,
    # so the successor runs it again, with the same idempotency key.
    app.gate.clear()
    dying = asyncio.create_task(doomed.on_resume(event))
    await asyncio.wait_for(app.entered.wait(), 10)
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)
    app.gate.set()
    # A whole lease passes on the successor's clock while it waits, not in real time.
    successor = harness.runs(ai=app.ai, owner="successor", lease=LEASE, clock=Clock(auto=True))
    await asyncio.wait_for(successor.on_resume(event), 20)
    done = await harness.result(run_id, RunCompleted)
    assert "COMPLETED" in done.text
    assert len(app.calls) == 2
    assert len(set(app.calls)) == 1  # the same key both times
    assert len(app.effects) == 1
    # Redelivered once more after everything finished: nothing runs, nothing is rejected.
    await asyncio.wait_for(harness.runs(ai=app.ai, owner="late").on_resume(event), 20)
    assert len(app.calls) == 2
    assert not [r for r in harness.results if isinstance(r, ResumeRejected)]


async def test_a_finished_tool_is_not_run_again_when_its_step_is_redone(harness: Harness) -> None:
    """The journal: the step's tool finished and was journaled, then the worker died before the
    next model call. The successor reads the output back instead of calling the tool."""
    app = GatedApp()
    run_id, ref = await _paused(harness, app)
    reached_model = asyncio.Event()
    release_model = asyncio.Event()

    async def slow_second_turn(request: Any) -> Any:
        if request.messages[-1].role == "tool":
            reached_model.set()
            await release_model.wait()
        return scripted(request)

    slow = Intermission(model=ScriptedModel(slow_second_turn))
    slow.define_tool(app.ai.tool("transferMoney").fn, name="transferMoney", description="Transfers money.")  # type: ignore[arg-type]
    doomed = harness.runs(ai=slow, owner="doomed", lease=LEASE)
    event = approve(run_id, ref)
    dying = asyncio.create_task(doomed.on_resume(event))
    await asyncio.wait_for(reached_model.wait(), 10)
    dying.cancel()
    await asyncio.gather(dying, return_exceptions=True)
    # A whole lease passes on the successor's clock while it waits, not in real time.
    successor = harness.runs(ai=app.ai, owner="successor", lease=LEASE, clock=Clock(auto=True))
    await asyncio.wait_for(successor.on_resume(event), 20)
    await harness.result(run_id, RunCompleted)
    assert len(app.calls) == 1


@pytest.mark.parametrize(
    ("seal_key", "compression"),
    [(b"test-key", "none"), (None, "none"), (b"test-key", "zstd")],
    ids=["hmac", "sha256", "hmac-zstd"],
)
async def test_a_pause_put_back_cannot_undo_its_claim_and_runs_nothing(
    harness: Harness, seal_key: bytes | None, compression: str
) -> None:
    app = GatedApp()
    worker = await harness.start_worker(ai=app.ai, seal_key=seal_key, compression=compression)
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    key = snapshot_key(run_id, 1)
    pending = await harness.backend.store.get(key)
    assert pending is not None
    ref = raised.interrupts[0].ref
    await harness.send(harness.backend.topics.resumes, run_id, approve(run_id, ref))
    await harness.result(run_id, RunCompleted)
    # Put the pause's own validly sealed copy back over it, and answer it again: the answer
    # created the pause's claim beside it, and no copy of the pause undoes that.
    current = await harness.backend.store.get(key)
    assert current is not None
    await harness.backend.store.replace(key, pending.data, current.etag)
    await harness.send(harness.backend.topics.resumes, run_id, approve(run_id, ref, resume_id="again"))
    rejected = await harness.result(run_id, ResumeRejected)
    await worker.stop()
    assert rejected.reason == "stale"
    # The run keeps its end (one terminal event per run), and nothing runs again.
    assert not [r for r in harness.results if isinstance(r, RunFailed)]
    assert len(app.calls) == 1


@pytest.mark.parametrize("seal_key", [b"test-key", None], ids=["hmac", "sha256"])
async def test_a_snapshot_swapped_from_another_run_runs_nothing(
    harness: Harness, seal_key: bytes | None
) -> None:
    app = GatedApp()
    worker = await harness.start_worker(ai=app.ai, seal_key=seal_key)
    victim, other = _run_id(), _run_id()
    for run_id in (victim, other):
        await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(victim)
    await harness.approval(other)
    theirs = await harness.backend.store.get(snapshot_key(other, 1))
    mine = await harness.backend.store.get(snapshot_key(victim, 1))
    assert theirs is not None
    assert mine is not None
    await harness.backend.store.replace(snapshot_key(victim, 1), theirs.data, mine.etag)
    await harness.send(harness.backend.topics.resumes, victim, approve(victim, raised.interrupts[0].ref))
    failed = await harness.result(victim, RunFailed)
    await worker.stop()
    assert failed.code == "tampered"
    assert app.calls == []


async def test_a_resealed_rewrite_is_caught_by_the_digest_the_approver_saw(harness: Harness) -> None:
    """Without a seal key anyone can recompute a sha256 seal; the answer names the pause digest
    of the InterruptRaised it answers, so a rewritten amount is still refused. The answer is
    refused, not the run failed: a digest is only the answer's word."""
    app = GatedApp()
    worker = await harness.start_worker(ai=app.ai, seal_key=None)
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    key = snapshot_key(run_id, 1)
    stored = await harness.backend.store.get(key)
    assert stored is not None
    body = stored.data.partition(b"\n")[2].replace(b"100000", b"900000")
    await harness.backend.store.replace(key, Sealer(None).seal(key, body), stored.etag)
    answer = approve(run_id, raised.interrupts[0].ref, pause_digest=raised.snapshot.sha256)
    await harness.send(harness.backend.topics.resumes, run_id, answer)
    rejected = await harness.result(run_id, ResumeRejected)
    await worker.stop()
    assert rejected.reason == "digest_mismatch"
    assert app.calls == []


class FlakyStore:
    """A store that is down (StoreUnavailableError) until ``up`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.up = asyncio.Event()
        self.up.set()
        self.refused = 0
        self._refusal = asyncio.Event()

    async def _check(self) -> None:
        if not self.up.is_set():
            self.refused += 1
            self._refusal.set()
            raise StoreUnavailableError("connection refused (test outage)")

    async def refused_at_least(self, count: int) -> None:
        while self.refused < count:
            self._refusal.clear()
            await self._refusal.wait()

    async def create(self, key: str, data: bytes) -> str:
        await self._check()
        return str(await self.inner.create(key, data))

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        await self._check()
        return str(await self.inner.replace(key, data, etag))

    async def get(self, key: str) -> Any:
        await self._check()
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        await self._check()
        return list(await self.inner.list(prefix))

    async def delete(self, key: str) -> None:
        await self._check()
        await self.inner.delete(key)


async def test_a_store_outage_loses_nothing_and_dead_letters_nothing(harness: Harness) -> None:
    app = GatedApp()
    flaky = FlakyStore(harness.backend.store)
    # The retry backoff waits on the worker's clock: tries come without real time passing.
    worker = await harness.start_worker(ai=app.ai, store=flaky, clock=Clock(auto=True))
    flaky.up.clear()
    runs = [_run_id() for _ in range(5)]
    for run_id in runs:
        await harness.submit(run_id, "transfer", tools=["transferMoney"])
    async with asyncio.timeout(30):
        await flaky.refused_at_least(5)
    assert not worker.worker.health.healthy
    flaky.up.set()
    raised = [await harness.approval(run_id) for run_id in runs]
    assert worker.worker.health.healthy
    for event in raised:
        await harness.send(
            harness.backend.topics.resumes, event.run_id, approve(event.run_id, event.interrupts[0].ref)
        )
    for run_id in runs:
        await harness.result(run_id, RunCompleted)
    await worker.stop()
    assert harness.dead_letters == []
    assert len(app.calls) == 5


async def test_a_tool_that_finishes_during_a_store_outage_runs_once(harness: Harness) -> None:
    """The tool's effect happened, but its journal entry cannot be written: the worker keeps the
    output and writes it once the store is back, instead of running the tool again."""
    app = GatedApp()
    run_id, ref = await _paused(harness, app)
    flaky = FlakyStore(harness.backend.store)
    worker = await harness.start_worker(ai=app.ai, store=flaky)
    app.gate.clear()
    await harness.send(harness.backend.topics.resumes, run_id, approve(run_id, ref))
    async with asyncio.timeout(30):
        await app.entered.wait()
    flaky.up.clear()
    app.gate.set()  # the tool finishes while the store is down
    async with asyncio.timeout(30):
        await flaky.refused_at_least(5)  # the journal write, tried again and again
    assert app.effects == {f"{run_id}:1:{ref}": {"toAccountId": "ABC123", "amount": 100000}}
    # Busy waiting, yet not ready: /readyz shows the outage the write is waiting out.
    assert not worker.worker.health.healthy
    flaky.up.set()
    await harness.result(run_id, RunCompleted)
    assert worker.worker.health.healthy
    await worker.stop()
    assert harness.dead_letters == []
    assert app.calls == [f"{run_id}:1:{ref}"]


@pytest.mark.kafka
@pytest.mark.s3
async def test_a_tool_that_finishes_while_seaweedfs_is_down_30s_runs_once(
    kafka_bootstrap: str, outage_s3: S3Service, outage_s3_bucket: S3Bucket
) -> None:
    """The same on a real SeaweedFS, stopped for 30 s while the tool runs (issue 20, defect 2:
    the finished tool ran again when S3 returned)."""
    app = GatedApp()
    topics = Topics.with_prefix(f"outage-{uuid.uuid4().hex[:8]}-")
    backend = RealBackend(kafka_bootstrap, outage_s3_bucket, topics, fast_consumer_kwargs())
    await backend.start()
    harness = Harness(backend, app.ai)
    await harness.watch()
    try:
        run_id, ref = await _paused(harness, app)
        worker = await harness.start_worker(ai=app.ai)
        app.gate.clear()
        await harness.send(topics.resumes, run_id, approve(run_id, ref))
        async with asyncio.timeout(60):
            await app.entered.wait()
        await asyncio.to_thread(outage_s3.stop_for_outage)
        app.gate.set()  # the tool finishes while SeaweedFS is down
        await asyncio.sleep(30)  # the outage itself: real time, as S3 clients see it
        await asyncio.to_thread(outage_s3.restart)
        await harness.wait_for(
            lambda: [r for r in harness.results if r.run_id == run_id and isinstance(r, RunCompleted)],
            within=120,
        )
        await worker.stop()
        assert harness.dead_letters == []
        assert app.calls == [f"{run_id}:1:{ref}"]
        assert list(app.effects) == [f"{run_id}:1:{ref}"]
    finally:
        await harness.close()


async def test_stop_lets_a_slow_tool_finish_and_commits_it(harness: Harness) -> None:
    app = GatedApp()
    run_id, ref = await _paused(harness, app)
    worker = await harness.start_worker(ai=app.ai, shutdown_grace=20)
    app.gate.clear()
    await harness.send(harness.backend.topics.resumes, run_id, approve(run_id, ref))
    await asyncio.wait_for(app.entered.wait(), 20)
    stopping = asyncio.create_task(worker.stop())
    await asyncio.sleep(1)
    app.gate.set()
    await asyncio.wait_for(stopping, 30)
    await harness.result(run_id, RunCompleted)
    # A successor in the same group gets nothing again: the resume's offset was committed.
    successor = await harness.start_worker(ai=app.ai)
    await asyncio.sleep(3)
    await successor.stop()
    assert len(app.calls) == 1
    assert len([r for r in harness.results if isinstance(r, RunCompleted) and r.run_id == run_id]) == 1


class _Recorder:
    """A subscription stand-in that records commits, for the worker's commit rule."""

    def __init__(self, records: list[Record]) -> None:
        self._records = records
        self.commits: list[int] = []

    async def records(self) -> Any:
        for record in self._records:
            yield record
        await asyncio.Event().wait()

    async def commit(self, record: Record) -> None:
        self.commits.append(record.offset)

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_the_offset_stays_while_a_dead_letter_cannot_be_published(harness: Harness) -> None:
    published: list[str] = []
    failing = asyncio.Event()
    failing.set()
    refused = asyncio.Semaphore(0)

    class Publisher:
        async def publish(self, topic: str, key: str, value: bytes, headers: Any = ()) -> None:
            if topic == harness.backend.topics.dead_letter and failing.is_set():
                refused.release()
                raise RuntimeError("dead-letter topic refused the record")
            published.append(topic)

    from intermission.service import Worker

    # The retries back off on the worker's clock: many tries pass without real time passing.
    runs = harness.runs(publisher=Publisher(), clock=Clock(auto=True))
    worker = Worker(runs, retry_delay=0.5, max_backoff=5.0, attempts=2)
    topic = harness.backend.topics.requests
    records = [Record(topic=topic, partition=0, offset=n, key=b"k", value=b"not json") for n in range(3)]
    subscription = _Recorder(records)
    running = asyncio.create_task(worker.run(subscription))
    async with asyncio.timeout(10):
        for _ in range(10):
            await refused.acquire()
    assert subscription.commits == []  # the first bad record could not be dead-lettered
    failing.clear()
    for _ in range(100):
        if subscription.commits and max(subscription.commits) == 2:
            break
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(running, 10)
    assert max(subscription.commits) == 2
    assert published.count(harness.backend.topics.dead_letter) == 3


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_a_dead_letter_of_a_record_near_the_limit_fits_and_points_at_the_original(
    harness: Harness,
) -> None:
    limit = 64 * 1024
    worker = await harness.start_worker(max_record_bytes=limit)
    value = b'{"type": "GenerateRequest", "runId": "' + b"x" * (limit - 64) + b'"}'
    assert len(value) <= limit
    await harness.backend.publish_raw(harness.backend.topics.requests, "big", value)
    [letter] = await harness.wait_for(lambda: harness.dead_letters)
    await worker.stop()
    assert letter.reason == "invalid_fields"
    assert letter.truncated
    assert letter.value_size == len(value)
    assert value.startswith(letter.value)


async def test_a_first_run_redelivered_while_its_owner_works_runs_its_tools_once(harness: Harness) -> None:
    """A first step has no pause to carry a claim: it is claimed in its journal instead."""
    gate, entered = asyncio.Event(), asyncio.Event()
    calls: list[str | None] = []

    def model(request: Any) -> Any:
        from intermission import reply, tool_call

        if request.messages[-1].role == "tool":
            return reply("looked it up")
        return reply(tool_call("lookup", {"query": "balance"}, ref="lookup-1"))

    ai = Intermission(model=ScriptedModel(model))

    @ai.define_tool(name="lookup", description="Looks something up, slowly.", input_schema=Query)
    async def lookup(input: Query, ctx: ToolContext) -> dict[str, object]:
        calls.append(ctx.idempotency_key)
        entered.set()
        await gate.wait()
        return {"balance": 42}

    from intermission_schemas import GenerateRequest, Message, TextPart

    run_id = _run_id()
    request = GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        messages=[Message(role="user", content=[TextPart("what is my balance?")])],
        tools=["lookup"],
    )
    owner_clock = Clock()
    first = harness.runs(ai=ai, owner="first", lease=LEASE, clock=owner_clock)
    owner = asyncio.create_task(first.on_request(request))
    async with asyncio.timeout(10):
        await entered.wait()
    looks = PacedLooks(harness.backend.store, journal_claim_key(run_id, 0))
    second = harness.runs(ai=ai, owner="second", lease=LEASE, clock=Clock(auto=True), store=looks)
    redelivered = asyncio.create_task(second.on_request(request))
    await owner_renews_while_waiter_looks(owner_clock, looks)  # the owner's renewals keep it
    assert not redelivered.done()
    gate.set()
    async with asyncio.timeout(20):
        await owner
        await looks.open()
        await redelivered
    done = await harness.result(run_id, RunCompleted)
    assert done.text == "looked it up"
    assert calls == [f"{run_id}:0:lookup-1"]
