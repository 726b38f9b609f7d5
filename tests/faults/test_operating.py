"""Operating a worker process on real Kafka and SeaweedFS, as Prometheus and the kubelet see it:
requests, answers and a rejection move the counters and histograms of ``/metrics`` by exactly
what was driven, and ``/readyz`` goes not-ready while SeaweedFS is down and ready again once it
is back, with no record in flight to notice.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from faultkit import Client, Lane, WorkerProcess
from intermission.service.local_services.processes import free_loopback_port
from intermission_schemas import ResumeRejected, RunCompleted
from prometheus_client.parser import text_string_to_metric_families
from realservices import KafkaService, S3Service
from realservices.plugin import S3Bucket

RUNS = 3


async def _get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of one GET; (0, reason) when nothing answers."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        return 0, str(exc)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: worker\r\n\r\n".encode())
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


async def _until_status(port: int, path: str, status: int, within: float) -> float:
    """Seconds until ``path`` answers ``status``; fails with the last answer otherwise."""
    started = time.monotonic()
    last: tuple[int, str] = (0, "")
    while time.monotonic() - started < within:
        last = await _get(port, path)
        if last[0] == status:
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    raise AssertionError(f"{path} never answered {status} within {within} s; last: {last}")


class Scrape:
    def __init__(self, text: str) -> None:
        self.samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """Summed over every series of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= set(ls))


async def _scrape(port: int) -> Scrape:
    status, body = await _get(port, "/metrics")
    assert status == 200, body
    return Scrape(body)


@pytest.mark.kafka
@pytest.mark.s3
async def test_metrics_move_by_what_was_driven_and_readiness_follows_seaweedfs(
    kafka_service: KafkaService, outage_s3: S3Service, outage_s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(kafka_service.bootstrap_servers, outage_s3_bucket, tmp_path)
    await lane.create_topics()
    port = free_loopback_port()
    t = lane.topics
    ids = [f"run-{lane.name}-{i}" for i in range(RUNS)]
    async with Client(lane) as client:
        worker = await WorkerProcess.start(
            lane,
            env={
                "INTERMISSION_HEALTH_PORT": str(port),
                "INTERMISSION_HEALTH_HOST": "127.0.0.1",
                "INTERMISSION_HEALTH_PROBE_SECONDS": "0.5",
                "INTERMISSION_LOG_FORMAT": "json",
            },
        )
        try:
            await _until_status(port, "/healthz", 200, within=60)
            await _until_status(port, "/readyz", 200, within=60)  # joined its group

            for run_id in ids:
                await client.submit(run_id, f"transfer {run_id}")
            paused = await client.wait_for(lambda: set(ids) <= client.paused(), within=60)
            assert paused, worker.tail(40)
            # One answer to a ref the pause does not have (rejected), then an approval each.
            await client.answer(ids[0], "wrong-ref", ref="no-such-ref")
            for run_id in ids:
                await client.answer(run_id, f"approve-{run_id}")
            done = await client.wait_for(
                lambda: (
                    set(ids) <= client.finished()
                    and any(isinstance(r, ResumeRejected) for r in client.results)
                ),
                within=60,
            )
            assert done, worker.tail(40)
            assert all(isinstance(r, RunCompleted | ResumeRejected) for r in client.results)

            # A record counts once it is finished, just after its outcome is published.
            deadline = time.monotonic() + 15
            scrape = await _scrape(port)
            while scrape.total("intermission_records_handled_total") < 2 * RUNS + 1:
                assert time.monotonic() < deadline, "records were not all counted"
                await asyncio.sleep(0.2)
                scrape = await _scrape(port)

            v = scrape.value
            assert v("intermission_records_handled_total", topic=t.requests, outcome="done") == RUNS
            assert v("intermission_records_handled_total", topic=t.resumes, outcome="done") == RUNS + 1
            assert v("intermission_record_duration_seconds_count", topic=t.requests, outcome="done") == RUNS
            assert (
                v("intermission_record_duration_seconds_count", topic=t.resumes, outcome="done") == RUNS + 1
            )
            assert v("intermission_records_in_flight") == 0
            assert v("intermission_runs_started_total") == RUNS
            assert v("intermission_interrupts_raised_total") == RUNS
            assert v("intermission_resumes_total") == RUNS
            assert v("intermission_interrupts_resolved_total", outcome="restarted") == RUNS
            assert v("intermission_resume_rejections_total", reason="unknown_ref") == 1
            assert scrape.total("intermission_resume_rejections_total") == 1
            assert v("intermission_runs_completed_total") == RUNS
            assert v("intermission_run_duration_seconds_count", outcome="completed") == RUNS
            assert scrape.total("intermission_runs_failed_total") == 0
            assert scrape.total("intermission_dead_letters_total") == 0
            # fault_app's script: three model turns per run; transferMoney pauses, then runs once
            # approved; notify runs in the first and the second turn.
            assert v("intermission_model_call_duration_seconds_count", outcome="ok") == 3 * RUNS
            tools = "intermission_tool_call_duration_seconds_count"
            assert v(tools, tool="transferMoney", outcome="interrupted") == RUNS
            assert v(tools, tool="transferMoney", outcome="ok") == RUNS
            assert v(tools, tool="notify", outcome="ok") == 2 * RUNS
            publishes = "intermission_publish_duration_seconds_count"
            assert v(publishes, topic=t.approvals, outcome="ok") == RUNS
            assert v(publishes, topic=t.results, outcome="ok") == RUNS + 1  # completions + rejection
            assert (
                v("intermission_store_operation_duration_seconds_count", operation="create", outcome="ok") > 0
            )
            assert (
                v("intermission_store_operation_duration_seconds_sum", operation="create", outcome="ok") > 0
            )
            assert v("intermission_dependency_up", dependency="store") == 1
            assert v("intermission_dependency_up", dependency="log") == 1

            # SeaweedFS goes away while the worker is idle: the probe notices.
            outage_s3.stop_for_outage()
            went_down = await _until_status(port, "/readyz", 503, within=30)
            _, body = await _get(port, "/readyz")
            assert '"store"' in body, body
            assert (await _get(port, "/healthz"))[0] == 200  # alive all along: no restart wanted
            assert (await _scrape(port)).value("intermission_dependency_up", dependency="store") == 0
            await asyncio.to_thread(outage_s3.restart)
            came_back = await _until_status(port, "/readyz", 200, within=30)
            assert (await _scrape(port)).value("intermission_dependency_up", dependency="store") == 1
            print(
                f"not ready {went_down:.1f} s after SeaweedFS stopped, "
                f"ready {came_back:.1f} s after it was back"
            )
        finally:
            code = await worker.terminate()
    assert code == 0, worker.tail(40)
    # The worker runs at WARNING here (worker_process.py): its lines are the outage's, in JSON.
    lines = [line for line in worker.log.read_text().splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert any(line["message"].startswith("store unavailable") for line in parsed), worker.tail(40)
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in parsed)
