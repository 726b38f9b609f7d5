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
def k8s_documents() -> dict[str, Any]:
    """Every Kubernetes object in deploy/k8s, by kind (one object of each kind there)."""
    documents: dict[str, Any] = {}
    for path in sorted(K8S.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in documents, f"two {document['kind']} objects"
            documents[document["kind"]] = document
    return documents


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


def worker_container() -> dict[str, Any]:
    [container] = k8s_documents()["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def k8s_worker_environment() -> dict[str, str]:
    """The worker container's environment: the ConfigMap's data (envFrom), then its env; a value
    from a Secret stands as a placeholder."""
    container = worker_container()
    configmaps = {ref["configMapRef"]["name"] for ref in container.get("envFrom", [])}
    configmap = k8s_documents()["ConfigMap"]
    assert configmaps == {configmap["metadata"]["name"]}
    environment = dict(configmap["data"])
    for variable in container.get("env", []):
        environment[variable["name"]] = variable.get("value", "from-a-secret")
    return environment


def compose_environment(service: str) -> dict[str, str]:
    environment = compose()["services"][service].get("environment", {})
    assert isinstance(environment, dict), "environment as a mapping, so merges stay readable"
    return {name: str(value) for name, value in environment.items()}
