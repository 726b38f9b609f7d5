"""`intermission services up`: real Kafka and SeaweedFS on loopback, as a user starts them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from intermission.service.local_services import s3_client
from intermission_schemas import Topics
from realservices import topic_replication

_COMMAND = [sys.executable, "-m", "intermission.cli", "services", "up"]
# The first run may download Kafka's jars (~45 MB) with Maven: allow for it.
_START_TIMEOUT_S = 300.0
_STOP_TIMEOUT_S = 60.0


async def _read_settings(process: asyncio.subprocess.Process) -> tuple[dict[str, str], list[str]]:
    """The `export NAME=value` lines it prints, read up to the line that ends them."""
    assert process.stdout is not None
    settings: dict[str, str] = {}
    seen: list[str] = []
    while True:
        raw = await asyncio.wait_for(process.stdout.readline(), _START_TIMEOUT_S)
        if not raw:
            raise AssertionError("`services up` ended before printing its settings:\n" + "".join(seen))
        line = raw.decode()
        seen.append(line)
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").strip().partition("=")
            settings[name] = value
        elif line.startswith("Then run `intermission worker`"):
            return settings, seen


def _accepts(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


async def _start_up(*options: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *_COMMAND,
        "--kafka-port=0",  # any free ports: colleagues' brokers may hold 9092 and 8333
        "--s3-port=0",
        "--partitions=2",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def test_services_up_runs_kafka_and_s3_until_ctrl_c() -> None:
    process = await _start_up("--bucket=services-up-test")
    try:
        settings, _ = await _read_settings(process)
        assert set(settings) >= {
            "INTERMISSION_BOOTSTRAP_SERVERS",
            "INTERMISSION_S3_ENDPOINT_URL",
            "INTERMISSION_BUCKET",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        }
        bootstrap = settings["INTERMISSION_BOOTSTRAP_SERVERS"]

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            assert set(Topics().all()) <= set(await admin.list_topics())
        finally:
            await admin.close()

        s3 = s3_client(
            settings["INTERMISSION_S3_ENDPOINT_URL"],
            settings["AWS_ACCESS_KEY_ID"],
            settings["AWS_SECRET_ACCESS_KEY"],
        )
        await asyncio.to_thread(s3.put_object, Bucket="services-up-test", Key="probe", Body=b"ok")
        got = await asyncio.to_thread(s3.get_object, Bucket="services-up-test", Key="probe")
        assert got["Body"].read() == b"ok"

        process.send_signal(signal.SIGINT)
        assert process.stdout is not None
        rest = await asyncio.wait_for(process.stdout.read(), _STOP_TIMEOUT_S)
        assert await process.wait() == 0, rest.decode()
        assert "Kafka and SeaweedFS stopped." in rest.decode()
        assert not _accepts(bootstrap)
        assert not _accepts(settings["INTERMISSION_S3_ENDPOINT_URL"].removeprefix("http://"))
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_services_up_brokers_3_runs_a_replicated_cluster() -> None:
    process = await _start_up("--bucket=services-up-cluster", "--brokers=3")
    try:
        settings, _ = await _read_settings(process)
        bootstrap = settings["INTERMISSION_BOOTSTRAP_SERVERS"]
        assert len(bootstrap.split(",")) == 3, bootstrap
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        await admin.start()
        try:
            assert len((await admin.describe_cluster())["brokers"]) == 3
        finally:
            await admin.close()
        topics = Topics().all()
        assert await topic_replication(bootstrap, topics) == {name: (3, 2) for name in topics}

        process.send_signal(signal.SIGINT)
        assert process.stdout is not None
        rest = await asyncio.wait_for(process.stdout.read(), _STOP_TIMEOUT_S)
        assert await process.wait() == 0, rest.decode()
        assert not any(_accepts(address) for address in bootstrap.split(","))
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _run_failing(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *_COMMAND,
        "--kafka-port=0",
        "--s3-port=0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_without_weed_it_names_the_extra_to_install() -> None:
    code, output = await _run_failing({**os.environ, "INTERMISSION_WEED": "/nonexistent/weed"})
    assert code == 2, output
    assert "intermission[services]" in output


@pytest.mark.parametrize("java_home", ["", "/nonexistent-jdk"])
async def test_without_java_it_says_java_is_missing(tmp_path: Path, java_home: str) -> None:
    # A PATH with only this interpreter on it: no `java` (and no `mvn`) to be found.
    (tmp_path / "python").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(tmp_path), "JAVA_HOME": java_home}
    code, output = await _run_failing(env)
    assert code == 2, output
    assert "`java` is not on PATH" in output
