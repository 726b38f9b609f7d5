"""The acknowledgement policy: an offset is committed only after every effect of its record is
durable, never past a record still in flight, and a stopped worker's records come back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from intermission.service import Sealer, Topics, Worker
from intermission.service.adapters.local import LocalSnapshotStore, MemoryLog
from intermission.service.ports import Headers
from intermission.service.runs import Runs
from intermission_schemas import GenerateRequest, Message, TextPart, encode
from service_app import build

TOPICS = Topics()


def _request(run_id: str, text: str = "transfer") -> bytes:
    return encode(
        GenerateRequest(
            run_id=run_id,
            idempotency_key=run_id,
            messages=[Message(role="user", content=[TextPart(text)])],
            tools=["transferMoney"],
        )
    )


class GatedStore(LocalSnapshotStore):
    """A store whose creates wait at a gate, to hold a record's effects open."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gate = asyncio.Event()
        self.gated_runs: set[str] = set()

    async def create(self, key: str, data: bytes) -> str:
        if any(run in key for run in self.gated_runs):
            await self.gate.wait()
        return await super().create(key, data)


class FlakyLog(MemoryLog):
    """Publishing to the approvals topic fails a set number of times."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        if topic == TOPICS.approvals and self.failures:
            self.failures -= 1
            raise ConnectionError("broker unavailable")
        await super().publish(topic, key, value, headers)


def _worker(log: MemoryLog, store: LocalSnapshotStore) -> Worker:
    ai, _ = build()
    runs = Runs(ai=ai, store=store, publisher=log, topics=TOPICS, sealer=Sealer())
    return Worker(runs, retry_delay=0.01)


async def _until(predicate: object, within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        # Polling: the state belongs to the code under test, which offers nothing to wait on.
        while not predicate():  # type: ignore[operator]  # noqa: ASYNC110
            await asyncio.sleep(0.005)


def _committed(log: MemoryLog) -> int:
    return log.committed.get(("g", TOPICS.requests), 0)


async def test_no_commit_until_the_event_is_published(tmp_path: Path) -> None:
    log = FlakyLog(failures=2)
    subscription = log.subscribe([TOPICS.requests], "g")
    serving = asyncio.create_task(_worker(log, LocalSnapshotStore(tmp_path)).run(subscription))
    await log.publish(TOPICS.requests, "r1", _request("r1"))
    await _until(lambda: log.topics[TOPICS.approvals])
    await _until(lambda: _committed(log) == 1)
    await subscription.close()
    await serving
    assert log.failures == 0  # both failures happened before the commit
    assert len(log.topics[TOPICS.approvals]) == 1


async def test_commit_never_passes_a_record_in_flight(tmp_path: Path) -> None:
    log = MemoryLog()
    store = GatedStore(tmp_path)
    store.gated_runs.add("slow")
    subscription = log.subscribe([TOPICS.requests], "g")
    serving = asyncio.create_task(_worker(log, store).run(subscription))
    await log.publish(TOPICS.requests, "slow", _request("slow"))
    await log.publish(TOPICS.requests, "fast", _request("fast"))
    await _until(lambda: len(log.topics[TOPICS.approvals]) == 1)  # "fast" finished first...
    await asyncio.sleep(0.05)
    assert _committed(log) == 0  # ...but its offset is behind "slow", which is still open
    store.gate.set()
    await _until(lambda: _committed(log) == 2)
    await subscription.close()
    await serving


async def test_a_stopped_worker_leaves_its_record_to_the_next(tmp_path: Path) -> None:
    log = MemoryLog()
    store = GatedStore(tmp_path)
    store.gated_runs.add("r1")
    subscription = log.subscribe([TOPICS.requests], "g")
    serving = asyncio.create_task(_worker(log, store).run(subscription))
    await log.publish(TOPICS.requests, "r1", _request("r1"))
    await asyncio.sleep(0.05)
    serving.cancel()  # the worker dies with the record's effects unfinished
    await asyncio.gather(serving, return_exceptions=True)
    assert _committed(log) == 0

    store.gate.set()
    successor = log.subscribe([TOPICS.requests], "g")
    serving = asyncio.create_task(_worker(log, store).run(successor))
    await _until(lambda: _committed(log) == 1)
    await successor.close()
    await serving
    assert len(log.topics[TOPICS.approvals]) == 1
    assert await store.list("runs/r1/snapshots/") == ["runs/r1/snapshots/00000001"]


class CrashAfterResult(LocalSnapshotStore):
    """The first result stored is the worker's last act: it dies before announcing it, as a
    worker killed at that moment would."""

    crashed = False

    async def create(self, key: str, data: bytes) -> str:
        etag = await super().create(key, data)
        if key.endswith("/result") and not self.crashed:
            self.crashed = True
            raise ConnectionError("worker lost mid-resume")
        return etag


async def test_a_resume_retried_after_its_result_is_durable_does_not_run_tools_again(tmp_path: Path) -> None:
    from intermission_schemas import RestartAnswer, ResumeRequested, decode_approval

    log = MemoryLog()
    store = CrashAfterResult(tmp_path)
    ai, transfers = build()
    worker = Worker(Runs(ai=ai, store=store, publisher=log, topics=TOPICS, sealer=Sealer()), retry_delay=0.01)
    subscription = log.subscribe([TOPICS.requests, TOPICS.resumes], "g")
    serving = asyncio.create_task(worker.run(subscription))
    await log.publish(TOPICS.requests, "r1", _request("r1"))
    await _until(lambda: log.topics[TOPICS.approvals])
    raised = decode_approval(log.topics[TOPICS.approvals][0].value)
    resume = ResumeRequested(
        run_id="r1",
        resume_id="once",
        snapshot_version=1,
        restart=[RestartAnswer(ref=raised.interrupts[0].ref, resumed={"status": "APPROVED"})],
    )
    await log.publish(TOPICS.resumes, "r1", encode(resume))
    # The retried record finds the pause claimed and its step stored: it announces the stored
    # end, and runs nothing.
    await _until(lambda: len(log.topics[TOPICS.results]) == 1)
    await _until(lambda: log.committed.get(("g", TOPICS.resumes), 0) == 1)
    await subscription.close()
    await serving
    assert store.crashed
    assert len(transfers) == 1
    assert b"RunCompleted" in log.topics[TOPICS.results][0].value
