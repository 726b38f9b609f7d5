"""SeaweedFS or the broker goes away while requests and answers flow, and comes back on the same
data: no dead letters, no answer lost, every run completes. Each test prints its time to
recover.

Each test takes down a service of its own (the outage_* fixtures), never the shared ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from faultkit import Client, Lane, WorkerProcess, approve_as_raised, quiesce, tally
from realservices import KafkaService, S3Service
from realservices.plugin import S3Bucket

RECOVERY_S = 60.0  # after the service is back, how long the runs may take to complete


async def _flow_through(
    lane: Lane,
    runs: int,
    *,
    before: int,
    spacing: float,
    outage: Callable[[], Awaitable[float]],
) -> None:
    """Submit `runs` runs `spacing` s apart, answering each pause as it is raised; the outage
    begins after `before` runs were submitted. `outage()` returns when the service is back,
    with the monotonic time at which it was."""
    await lane.create_topics()
    ids = [f"run-{lane.name}-{i}" for i in range(runs)]
    answered: set[str] = set()
    started = time.monotonic()
    async with Client(lane) as client:
        worker = await WorkerProcess.start(lane)
        approver = asyncio.create_task(approve_as_raised(client, set(ids), answered))
        try:
            for run_id in ids[:before]:
                await client.submit(run_id, f"transfer {run_id}")
                await asyncio.sleep(spacing)
            # The outage hits a worker that is serving (a worker that cannot reach its
            # dependencies at start exits non-zero by design, and is not what is tested here).
            serving = await client.wait_for(
                lambda: bool(client.paused()) or not worker.alive, within=RECOVERY_S
            )
            assert serving, f"no run paused before the outage\n{worker.tail(40)}"
            assert worker.alive, f"the worker exited before the outage\n{worker.tail(40)}"
            outage_task = asyncio.create_task(outage())
            for run_id in ids[before:]:
                await asyncio.sleep(spacing)
                await client.submit(run_id, f"transfer {run_id}")
            back_at = await outage_task
            outcomes_before = len(client.finished())
            recovered = await client.wait_for(
                lambda: len(client.finished()) > outcomes_before or not worker.alive, within=RECOVERY_S
            )
            first_after = time.monotonic() - back_at
            if worker.alive:
                await quiesce(lane, client, set(ids), within=RECOVERY_S)
            all_done = time.monotonic() - back_at
        finally:
            approver.cancel()
            await asyncio.gather(approver, return_exceptions=True)
            code = await worker.terminate()
        t = tally(lane, client, ids, {r: {f"approve-{r}"} for r in answered})
    first = f"{first_after:.1f} s" if recovered and len(client.finished()) > outcomes_before else "never"
    print(
        f"time to recover: first outcome {first} after the service was back, "
        f"all {runs} runs settled {all_done:.1f} s after; test took {time.monotonic() - started:.1f} s; "
        f"worker exit {code}"
    )
    print(t.details())
    logs = worker.tail(40)
    assert t.dead_letters == 0, f"{t.details()}\n{logs}"
    assert t.answers_without_outcome == [], f"{t.details()}\n{logs}"
    assert sorted(answered) == sorted(ids), f"{len(ids) - len(answered)} runs never paused\n{logs}"
    assert t.lost == [], f"{t.details()}\n{logs}"
    assert t.failed == [], f"{t.details()}\n{logs}"


@pytest.mark.kafka
@pytest.mark.s3
async def test_seaweedfs_down_30s_loses_nothing(
    kafka_service: KafkaService, outage_s3: S3Service, outage_s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(kafka_service.bootstrap_servers, outage_s3_bucket, tmp_path)

    async def outage() -> float:
        outage_s3.stop_for_outage()
        print("SeaweedFS down")
        await asyncio.sleep(30)
        took = await asyncio.to_thread(outage_s3.restart)
        print(f"SeaweedFS back after {30 + took:.1f} s (restart {took:.1f} s)")
        return time.monotonic()

    await _flow_through(lane, 16, before=8, spacing=0.4, outage=outage)


@pytest.mark.kafka
@pytest.mark.s3
async def test_broker_down_75s_loses_nothing(
    outage_kafka: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(outage_kafka.bootstrap_servers, s3_bucket, tmp_path)

    async def outage() -> float:
        await asyncio.to_thread(outage_kafka.stop_for_outage)
        print("broker down")
        await asyncio.sleep(75)
        took = await asyncio.to_thread(outage_kafka.restart)
        print(f"broker back after {75 + took:.1f} s (restart {took:.1f} s)")
        return time.monotonic()

    await _flow_through(lane, 6, before=3, spacing=0.5, outage=outage)


@pytest.mark.kafka
@pytest.mark.s3
async def test_broker_sigkilled_and_restarted_loses_nothing(
    outage_kafka: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(outage_kafka.bootstrap_servers, s3_bucket, tmp_path)

    async def outage() -> float:
        outage_kafka.kill()
        print("broker SIGKILLed")
        took = await asyncio.to_thread(outage_kafka.restart)
        print(f"broker back after {took:.1f} s")
        return time.monotonic()

    await _flow_through(lane, 12, before=6, spacing=0.3, outage=outage)
