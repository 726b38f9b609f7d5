"""SIGTERM while a slow tool runs: the tool finishes, the record's offset is committed, the
worker exits 0, and the next worker does not run the record again."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from faultkit import Client, Lane, WorkerProcess
from intermission_schemas import RunCompleted
from realservices import KafkaService
from realservices.plugin import S3Bucket

SLOW_TOOL_S = 4.0


def _slow_calls(lane: Lane, run_id: str) -> list[str]:
    path = lane.effects / "calls.jsonl"
    if not path.exists():
        return []
    calls = [json.loads(line) for line in path.read_text().splitlines()]
    return [c["event"] for c in calls if c["run_id"] == run_id and c["tool"] == "slowTool"]


@pytest.mark.kafka
@pytest.mark.s3
async def test_sigterm_lets_a_slow_tool_finish_and_commits(
    kafka_service: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    # One partition: the probe run below comes after the slow one, so a redelivery of the slow
    # record would reach the second worker before the probe does.
    lane = Lane(kafka_service.bootstrap_servers, s3_bucket, tmp_path, partitions=1)
    await lane.create_topics()
    run_id, probe = f"run-{lane.name}-slow", f"run-{lane.name}-probe"
    async with Client(lane) as client:
        worker = await WorkerProcess.start(lane)
        try:
            await client.submit(run_id, f"slow {SLOW_TOOL_S} {run_id}")
            deadline = time.monotonic() + 60
            while "start" not in _slow_calls(lane, run_id):
                assert worker.alive, worker.tail(40)
                assert time.monotonic() < deadline, worker.tail(40)
                await asyncio.sleep(0.05)
            signalled = time.monotonic()
            code = await worker.terminate(grace=60)
            exited_after = time.monotonic() - signalled
        finally:
            worker.kill()
        print(f"worker exited {exited_after:.1f} s after SIGTERM with code {code}")
        logs = worker.tail(40)
        finished_by_first = _slow_calls(lane, run_id)
        committed = await lane.committed_everything()

        # A second worker on the same group: it must start after the committed offset.
        second = await WorkerProcess.start(lane)
        try:
            await client.submit(probe, f"slow 0 {probe}")
            probe_done = await client.wait_for(lambda: probe in client.finished(), within=60)
        finally:
            await second.terminate()
        redelivered = _slow_calls(lane, run_id)[len(finished_by_first) :]
        results = [r for r in client.results if r.run_id == run_id]

    assert finished_by_first == ["start", "finish"], f"{finished_by_first}\n{logs}"
    assert code == 0, logs
    assert "Traceback" not in logs, logs
    assert committed, f"the slow record's offset was not committed\n{logs}"
    assert probe_done, second.tail(40)
    assert redelivered == [], f"the second worker ran the slow tool again: {redelivered}"
    assert [type(r) for r in results] == [RunCompleted], results
