"""What the deploy tests share: the manifests as parsed YAML, and what the product says they
must agree with (settings, their variable names, the health port)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from intermission.service.wiring import settings as settings_module
from intermission.service.wiring.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = DEPLOY / "docker-compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: ``keyword`` upper-case, ``argument`` the rest of its line(s)."""

    keyword: str
    argument: str


def dockerfile_stages(text: str | None = None) -> list[list[Instruction]]:
    """deploy/Dockerfile's instructions, one list per stage (each starts with its FROM)."""
    logical: list[str] = []
    pending = ""
    for raw in (text if text is not None else DOCKERFILE.read_text()).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[list[Instruction]] = []
    for line in logical:
        keyword, _, argument = line.partition(" ")
        instruction = Instruction(keyword.upper(), argument.strip())
        if instruction.keyword == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


@cache
def k8s_objects() -> tuple[dict[str, Any], ...]:
    """Every Kubernetes object in deploy/k8s (files in name order, objects in file order)."""
    return tuple(
        document
        for path in sorted(K8S.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document is not None
    )


def k8s_object(kind: str, name: str | None = None) -> dict[str, Any]:
    """The one object of ``kind`` (of that ``name``, where there are several)."""
    [found] = [
        o for o in k8s_objects() if o["kind"] == kind and name in (None, o.get("metadata", {}).get("name"))
    ]
    return found


def deployments() -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in k8s_objects() if o["kind"] == "Deployment"}


def container(deployment: str) -> dict[str, Any]:
    [found] = deployments()[deployment]["spec"]["template"]["spec"]["containers"]
    assert isinstance(found, dict)
    return found


def container_environment(deployment: str) -> dict[str, str]:
    """A Deployment's container environment: its ConfigMaps' data (envFrom, in order), then its
    env; a value from a Secret stands as a placeholder."""
    environment: dict[str, str] = {}
    for source in container(deployment).get("envFrom", []):
        environment.update(k8s_object("ConfigMap", source["configMapRef"]["name"])["data"])
    for variable in container(deployment).get("env", []):
        environment[variable["name"]] = variable.get("value", "from-a-secret")
    return environment


@cache
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def setting_variables() -> set[str]:
    """Every INTERMISSION_* variable Settings.load reads (INTERMISSION_<field> and the older
    names it still accepts)."""
    fields = set(Settings.model_fields)
    older = {name for names in settings_module._ALIASES.values() for name in names}
    return {f"INTERMISSION_{name.upper()}" for name in fields} | {
        name for name in older if name.startswith("INTERMISSION_")
    }


def secret_settings() -> set[str]:
    """The variables of settings that hold secrets (typed SecretStr): never in a ConfigMap."""
    return {
        f"INTERMISSION_{name.upper()}"
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }


def health_port_default() -> int:
    """The port the worker serves /healthz, /readyz and /metrics on, unless told otherwise."""
    default = Settings.model_fields["health_port"].default
    assert isinstance(default, int)
    return default


def compose_environment(service: str) -> dict[str, str]:
    environment = compose()["services"][service].get("environment", {})
    assert isinstance(environment, dict), "environment as a mapping, so merges stay readable"
    return {name: str(value) for name, value in environment.items()}
