"""The pod's endpoints over several processes' own: readiness is all of theirs, metrics are
theirs labelled by slot, and a process that does not answer makes the pod not ready."""

from __future__ import annotations

import json

from intermission.service.observe import Metrics
from intermission.service.observe.endpoints import Endpoints
from intermission.service.observe.events import RunCompletion
from intermission.service.observe.metrics import CONTENT_TYPE
from intermission.service.observe.pod import merged_metrics, pod_readiness
from intermission.service.observe.readiness import Readiness
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families


async def _process(metrics: Metrics, ready: bool) -> tuple[Endpoints, int]:
    async def ready_now() -> Readiness:
        return Readiness(ready=ready, joined=True, partitions=1, down=[], stopping=False)

    async def metrics_now() -> bytes:
        return metrics.exposition()

    endpoints = Endpoints(readiness=ready_now, metrics=metrics_now, metrics_content_type=CONTENT_TYPE)
    return endpoints, await endpoints.start("127.0.0.1", 0)


async def test_the_pod_is_ready_only_when_every_process_answers_ready() -> None:
    up, up_port = await _process(Metrics(), ready=True)
    down, down_port = await _process(Metrics(), ready=False)
    try:
        assert (await pod_readiness([up_port])).ready
        mixed = await pod_readiness([up_port, down_port])
        assert not mixed.ready
        assert [p["ready"] for p in json.loads(bytes(mixed.detail))["processes"]] == [True, False]
        restarting = await pod_readiness([up_port, None])
        assert not restarting.ready
        assert json.loads(bytes(restarting.detail))["processes"][1]["detail"] == "not running"
    finally:
        await up.close()
        await down.close()
    gone = await pod_readiness([up_port])  # closed: nobody answers on that port now
    assert not gone.ready


async def test_pod_metrics_are_each_process_samples_labelled_with_its_slot() -> None:
    first, second = Metrics(), Metrics()
    first.observe(RunCompletion(run_id="a", snapshot_version=1, finish_reason="stop"))
    for run in ("b", "c"):
        second.observe(RunCompletion(run_id=run, snapshot_version=1, finish_reason="stop"))
    one, one_port = await _process(first, ready=True)
    two, two_port = await _process(second, ready=True)
    own = CollectorRegistry()
    Gauge("intermission_worker_processes", "running", registry=own).set(2)
    try:
        text = (await merged_metrics([one_port, two_port, None], own)).decode()
    finally:
        await one.close()
        await two.close()
    completed = {
        sample.labels["process"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "intermission_runs_completed_total"
    }
    assert completed == {"0": 1.0, "1": 2.0}
    assert "intermission_worker_processes 2.0" in text
    assert text.count("# TYPE intermission_runs_completed_total counter") == 1
