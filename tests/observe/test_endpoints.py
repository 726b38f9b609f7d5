"""/healthz, /readyz and /metrics as an HTTP client sees them, readiness following the store
probe, and the JSON log format."""

from __future__ import annotations

import asyncio
import builtins
import json
import logging

from intermission.errors import StoreUnavailableError
from intermission.service.health import Health
from intermission.service.observe import Metrics
from intermission.service.observe.endpoints import Endpoints
from intermission.service.observe.events import RunCompletion
from intermission.service.observe.log_lines import LogLines
from intermission.service.observe.metrics import CONTENT_TYPE
from intermission.service.observe.readiness import Readiness, readiness
from intermission.service.observe.watch import probe_store
from intermission.service.ports import StoredObject
from intermission.service.wiring.logs import JsonFormatter


async def get(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


class Store:
    """A store whose answers the test switches between up and down."""

    def __init__(self) -> None:
        self.down = False

    async def get(self, key: str) -> StoredObject | None:
        if self.down:
            raise StoreUnavailableError("connection refused")
        return None

    async def create(self, key: str, data: bytes) -> str:
        raise NotImplementedError

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        raise NotImplementedError

    async def list(self, prefix: str) -> builtins.list[str]:
        raise NotImplementedError

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> builtins.list[str]:
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        raise NotImplementedError


async def test_endpoints_answer_and_readiness_follows_the_store_probe() -> None:
    metrics = Metrics()
    health = Health(metrics)
    store = Store()
    stopping = [False]

    async def ready_now() -> Readiness:
        return readiness(health, None, stopping=stopping[0])

    async def metrics_now() -> bytes:
        return metrics.exposition()

    endpoints = Endpoints(readiness=ready_now, metrics=metrics_now, metrics_content_type=CONTENT_TYPE)
    port = await endpoints.start("127.0.0.1", 0)
    try:
        assert (await get(port, "/healthz"))[0] == 200
        status, _, body = await get(port, "/readyz")
        assert status == 200
        assert json.loads(body) == {
            "ready": True,
            "joined": True,
            "partitions": 0,
            "down": [],
            "stopping": False,
        }

        store.down = True
        await probe_store(store, health, within=1.0)
        status, _, body = await get(port, "/readyz")
        assert status == 503
        assert json.loads(body)["down"] == ["store"]
        assert metrics.registry.get_sample_value("intermission_dependency_up", {"dependency": "store"}) == 0

        store.down = False
        await probe_store(store, health, within=1.0)
        assert (await get(port, "/readyz"))[0] == 200
        assert metrics.registry.get_sample_value("intermission_dependency_up", {"dependency": "store"}) == 1

        stopping[0] = True  # SIGTERM: out of rotation while records in flight finish
        assert (await get(port, "/readyz"))[0] == 503

        metrics.observe(RunCompletion(run_id="r", snapshot_version=1, finish_reason="stop"))
        status, headers, body = await get(port, "/metrics?x=1")
        assert status == 200
        assert headers["content-type"] == CONTENT_TYPE
        assert b"intermission_runs_completed_total 1.0" in body
        status, headers, body = await get(port, "/metrics", method="HEAD")
        assert (status, body) == (200, b"")
        assert int(headers["content-length"]) > 0
        assert (await get(port, "/nothing"))[0] == 404
        assert (await get(port, "/healthz", method="POST"))[0] == 405
    finally:
        await endpoints.close()


def test_two_workers_in_one_process_keep_their_own_numbers() -> None:
    first, second = Metrics(), Metrics()
    first.observe(RunCompletion(run_id="r", snapshot_version=1, finish_reason="stop"))
    assert first.registry.get_sample_value("intermission_runs_completed_total") == 1
    assert second.registry.get_sample_value("intermission_runs_completed_total") == 0


def test_json_lines_carry_the_lifecycle_fields() -> None:
    logger = logging.getLogger("test.json-lines")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.addHandler(Keep())
    logger.setLevel(logging.INFO)
    LogLines(logger).observe(RunCompletion(run_id="run 1", snapshot_version=2, finish_reason="stop"))
    [record] = records
    assert record.getMessage() == 'run completed run_id="run 1" snapshot_version=2 finish_reason=stop'
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "run completed"
    assert (line["run_id"], line["snapshot_version"], line["level"]) == ("run 1", 2, "INFO")
    assert line["logger"] == "test.json-lines"

    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    assert "ValueError: boom" in json.loads(JsonFormatter().format(records[-1]))["exception"]
