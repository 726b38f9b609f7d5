"""`intermission worker --processes 2` on real Kafka + SeaweedFS: one pod, two consumers, one set
of endpoints. A run goes through; a killed process is started again; SIGTERM stops them all."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from intermission.service.local_services.processes import free_loopback_port
from intermission.service.observe.pod import scrape
from intermission_producer import GenerateRequest, IntermissionClient, RunCompleted, Topics
from intermission_schemas import Message, TextPart
from prometheus_client.parser import text_string_to_metric_families
from realservices.plugin import S3Bucket
from realservices.worker_env import worker_environment

pytestmark = [pytest.mark.kafka, pytest.mark.s3]

_WITHIN_S = 90.0


@pytest.fixture
def pod_env(kafka_bootstrap: str, kafka_topic_prefix: str, s3_bucket: S3Bucket) -> dict[str, str]:
    return {
        **worker_environment(kafka_bootstrap, f"{kafka_topic_prefix}workers", s3_bucket),
        "INTERMISSION_TOPIC_PREFIX": kafka_topic_prefix,
        "INTERMISSION_HEALTH_PORT": str(free_loopback_port()),
    }


@pytest.fixture
def pod(pod_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    cli = [sys.executable, "-m", "intermission.cli"]
    created = subprocess.run(
        [*cli, "topics", "create", "--partitions", "2"], env=pod_env, capture_output=True, timeout=120
    )
    assert created.returncode == 0, created.stderr.decode()[-2000:]
    log_path = tmp_path / "pod.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*cli, "worker", "--processes", "2"], env=pod_env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process, log_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in _worker_pids(log_path):  # a failed test must not leave its workers behind
            _signal(pid, signal.SIGKILL)


def _worker_pids(log_path: Path) -> list[int]:
    started = re.findall(r"worker process (\d+) started \(pid (\d+)\)", log_path.read_text())
    latest = {int(slot): int(pid) for slot, pid in started}
    return [latest[slot] for slot in sorted(latest)]


def _signal(pid: int, sig: signal.Signals) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes: its parent has not reaped it yet.
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def _tail(log_path: Path) -> str:
    return log_path.read_text()[-4000:]


async def _until(what: str, check: Callable[[], Awaitable[bool]], log_path: Path) -> None:
    try:
        async with asyncio.timeout(_WITHIN_S):
            while True:
                try:
                    if await check():
                        return
                except (OSError, TimeoutError):
                    pass  # not listening yet, or a slow answer: ask again
                await asyncio.sleep(0.3)
    except TimeoutError:
        pytest.fail(f"{what} not within {_WITHIN_S} s:\n{_tail(log_path)}")


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def test_two_processes_serve_one_pod_restart_when_killed_and_stop_on_sigterm(
    pod_env: dict[str, str], pod: tuple[subprocess.Popen[bytes], Path]
) -> None:
    process, log_path = pod
    port = int(pod_env["INTERMISSION_HEALTH_PORT"])

    async def ready() -> bool:
        status, body = await scrape(port, "/readyz")
        return status == 200 and len(json.loads(body)["processes"]) == 2

    await _until("the pod ready", ready, log_path)

    topics = Topics.with_prefix(pod_env["INTERMISSION_TOPIC_PREFIX"])
    request = GenerateRequest(
        run_id="pod-run-1",
        idempotency_key="pod-run-1",
        messages=[Message(role="user", content=[TextPart(text="Transfer $1000 to ABC123")])],
        tools=["transferMoney"],
    )
    async with IntermissionClient(pod_env["INTERMISSION_BOOTSTRAP_SERVERS"], topics=topics) as client:
        finishing = asyncio.create_task(client.submit_and_wait(request, timeout=_WITHIN_S))
        async with asyncio.timeout(_WITHIN_S):
            async for raised in client.interrupts(from_beginning=True):
                if raised.run_id == request.run_id:
                    break
        await client.restart(raised, {raised.interrupts[0].ref: {"status": "APPROVED"}}, answered_by="t")
        assert isinstance(await finishing, RunCompleted)

    async def counted() -> bool:
        # A worker counts a completion after it has published it: the client may see the
        # result a moment before the counter moves.
        _, text = await scrape(port, "/metrics")
        return sum(_samples(text.decode(), "intermission_runs_completed_total").values()) >= 1

    await _until("the completion counted", counted, log_path)
    _, text = await scrape(port, "/metrics")
    metrics = text.decode()
    # Each process's samples, labelled with its slot; the pod's sum is the run's one completion.
    assert {dict(labels)["process"] for labels in _samples(metrics, "intermission_records_in_flight")} == {
        "0",
        "1",
    }
    assert sum(_samples(metrics, "intermission_runs_completed_total").values()) == 1
    assert _samples(metrics, "intermission_worker_processes") == {(): 2.0}

    [first, second] = _worker_pids(log_path)
    assert _signal(first, signal.SIGKILL)

    async def replaced() -> bool:
        _, text = await scrape(port, "/metrics")
        restarts = _samples(text.decode(), "intermission_worker_process_restarts_total")
        pids = _worker_pids(log_path)
        return restarts == {(): 1.0} and pids[0] != first and await ready()

    await _until("the killed process started again and the pod ready", replaced, log_path)

    [restarted, _] = _worker_pids(log_path)
    process.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.wait, _WITHIN_S)
    assert code == 0, _tail(log_path)
    assert not _alive(restarted)
    assert not _alive(second)
    assert _tail(log_path).count("worker stopped") == 2
