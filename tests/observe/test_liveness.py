"""/healthz fails once the worker makes no progress on waiting records (issue 17, item 7): a
worker stuck on a record answered /healthz "ok" for ever, so Kubernetes never restarted it.

The clock is injected: the test moves it past the limit, nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from intermission.service import Settings, build_worker
from intermission.service.adapters.local import LocalSnapshotStore, MemoryLog
from intermission.service.observe import Observation, Observers
from intermission.service.observe.endpoints import Endpoints
from intermission.service.observe.events import RecordHandled, RecordTaken
from intermission.service.observe.liveness import Progress
from intermission.service.observe.metrics import CONTENT_TYPE, Metrics
from intermission.service.observe.readiness import Readiness, readiness
from intermission_schemas import GenerateRequest, Message, TextPart, encode
from service_app import build
from test_endpoints import get

LIMIT_S = 300.0


class MonotonicClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class StuckStore(LocalSnapshotStore):
    """A store whose writes hang until the test lets them through: a worker stuck on a record."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.gate = asyncio.Event()
        self.reached = asyncio.Event()

    async def create(self, key: str, data: bytes) -> str:
        self.reached.set()
        await self.gate.wait()
        return await super().create(key, data)


class Seen:
    def __init__(self) -> None:
        self.handled = asyncio.Event()

    def observe(self, event: Observation) -> None:
        if isinstance(event, RecordHandled):
            self.handled.set()


def test_progress_counts_waiting_records_against_the_clock() -> None:
    clock = MonotonicClock()
    progress = Progress(LIMIT_S, clock=clock)
    clock.now += 10 * LIMIT_S
    assert progress.stall() is None, "an idle worker is never stalled"

    progress.observe(RecordTaken(topic="t"))
    progress.observe(RecordTaken(topic="t"))
    clock.now += LIMIT_S
    assert progress.stall() is None, "not over the limit yet"
    clock.now += 1
    stall = progress.stall()
    assert stall is not None
    assert (stall.waiting, stall.stalled_seconds, stall.limit_seconds) == (2, LIMIT_S + 1, LIMIT_S)

    progress.observe(RecordHandled(topic="t", outcome="done", seconds=1.0))
    assert progress.stall() is None, "a record finished: progress"
    clock.now += LIMIT_S + 1
    assert progress.stall() is not None, "the other one still waits"
    progress.observe(RecordHandled(topic="t", outcome="dead_letter", seconds=1.0))
    clock.now += 10 * LIMIT_S
    assert progress.stall() is None

    never = Progress(0, clock=clock)
    never.observe(RecordTaken(topic="t"))
    clock.now += 10**6
    assert never.stall() is None, "0 turns the check off"


def test_the_limit_is_a_setting_with_a_default() -> None:
    assert Settings().liveness_stall_seconds == 300.0
    loaded = Settings.load({"INTERMISSION_LIVENESS_STALL_SECONDS": "45"})
    assert loaded.liveness_stall_seconds == 45.0


async def test_healthz_fails_while_a_worker_is_stuck_on_a_record(tmp_path: Path) -> None:
    settings = Settings()
    clock = MonotonicClock()
    progress = Progress(LIMIT_S, clock=clock)
    seen = Seen()
    log = MemoryLog()
    store = StuckStore(tmp_path)
    ai, _ = build()
    worker = build_worker(
        settings, store=store, publisher=log, ai=ai, observer=Observers(Metrics(), progress, seen)
    )

    async def ready_now() -> Readiness:
        return readiness(worker.health, None, stopping=worker.stopping)

    async def no_metrics() -> bytes:
        return b""

    endpoints = Endpoints(
        readiness=ready_now, metrics=no_metrics, metrics_content_type=CONTENT_TYPE, liveness=progress.stall
    )
    port = await endpoints.start("127.0.0.1", 0)
    t = settings.topics
    subscription = log.subscribe([t.requests, t.resumes], "workers")
    running = asyncio.create_task(worker.run(subscription))
    try:
        assert (await get(port, "/healthz"))[0] == 200
        hello = [Message(role="user", content=[TextPart("hi")])]
        request = GenerateRequest(run_id="r-stuck", idempotency_key="r-stuck", messages=hello)
        await log.publish(t.requests, "r-stuck", encode(request))
        async with asyncio.timeout(10):
            await store.reached.wait()

        clock.now += LIMIT_S - 1
        assert (await get(port, "/healthz"))[0] == 200, "waiting, but not for too long yet"
        clock.now += 2
        status, headers, body = await get(port, "/healthz")
        assert status == 503
        assert headers["content-type"] == "application/json"
        answer: dict[str, Any] = json.loads(body)
        assert answer == {"stalled_seconds": LIMIT_S + 1, "waiting": 1, "limit_seconds": LIMIT_S}

        store.gate.set()  # the record gets done: the worker is alive again
        async with asyncio.timeout(10):
            await seen.handled.wait()
        assert (await get(port, "/healthz"))[0] == 200
    finally:
        store.gate.set()
        worker.stop()
        await subscription.close()
        await asyncio.wait_for(running, 10)
        await endpoints.close()
