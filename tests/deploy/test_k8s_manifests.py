"""deploy/k8s agrees with the product: setting names, topics, group, ports and secrets.

No cluster runs here, so the manifests are checked as data against the settings object, the
topic contract and the CLI defaults they depend on.
"""

from __future__ import annotations

import inspect
import re

from deploy_manifests import (
    COMPOSE_FILE,
    DEPLOY,
    K8S,
    health_port_default,
    k8s_documents,
    k8s_worker_environment,
    secret_settings,
    setting_variables,
    worker_container,
)
from intermission._cli._service import topics_create
from intermission.service.wiring.settings import Settings

_VARIABLE = re.compile(r"\bINTERMISSION_[A-Z0-9_]+\b")


def test_every_manifest_parses_and_kustomize_lists_them_all() -> None:
    kinds = set(k8s_documents())
    assert kinds == {
        "ConfigMap",
        "Deployment",
        "Kustomization",
        "PodDisruptionBudget",
        "ScaledObject",
        "Secret",
        "ServiceAccount",
    }
    listed = set(k8s_documents()["Kustomization"]["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


def test_every_intermission_variable_named_in_deploy_is_a_real_setting() -> None:
    known = setting_variables()
    for path in [*K8S.glob("*.yaml"), COMPOSE_FILE, DEPLOY / "Dockerfile", DEPLOY / "README.md"]:
        unknown = set(_VARIABLE.findall(path.read_text())) - known
        assert not unknown, f"{path.relative_to(DEPLOY)} names variables no setting reads: {unknown}"


def test_the_worker_environment_loads_and_has_what_a_worker_requires() -> None:
    environment = k8s_worker_environment()
    settings = Settings.load(environment)
    settings.require("bootstrap_servers", "bucket", "seal_key")  # seal: snapshots are sealed


def test_secrets_come_from_the_secret_never_from_the_configmap() -> None:
    configmap = k8s_documents()["ConfigMap"]["data"]
    assert not set(configmap) & secret_settings()
    secret = k8s_documents()["Secret"]
    for variable in worker_container()["env"]:
        reference = variable["valueFrom"]["secretKeyRef"]
        assert reference["name"] == secret["metadata"]["name"]
        assert reference["key"] in secret["stringData"], reference


def test_probes_and_scrape_annotation_use_the_health_port() -> None:
    container = worker_container()
    [port] = container["ports"]
    assert port["name"] == "health"
    assert port["containerPort"] == health_port_default()
    assert k8s_worker_environment()["INTERMISSION_HEALTH_PORT"] == str(health_port_default())
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    annotations = k8s_documents()["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(health_port_default())
    assert annotations["prometheus.io/path"] == "/metrics"


def test_the_pod_outlives_the_workers_shutdown_grace() -> None:
    pod = k8s_documents()["Deployment"]["spec"]["template"]["spec"]
    settings = Settings.load(k8s_worker_environment())
    assert pod["terminationGracePeriodSeconds"] > settings.shutdown_grace_seconds
    assert worker_container()["resources"]["requests"]
    assert worker_container()["resources"]["limits"]["memory"]


def test_budget_autoscaler_and_service_account_point_at_the_workers() -> None:
    documents = k8s_documents()
    deployment = documents["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = documents["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    assert documents["ScaledObject"]["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    service_account = documents["ServiceAccount"]["metadata"]["name"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == service_account


def test_keda_scales_on_the_lag_of_the_workers_group_on_its_input_topics() -> None:
    settings = Settings.load(k8s_worker_environment())
    scaled = k8s_documents()["ScaledObject"]["spec"]
    triggers = scaled["triggers"]
    assert {t["type"] for t in triggers} == {"kafka"}
    assert {t["metadata"]["topic"] for t in triggers} == {settings.topics.requests, settings.topics.resumes}
    for trigger in triggers:
        assert trigger["metadata"]["consumerGroup"] == settings.group_id
        assert trigger["metadata"]["bootstrapServers"] == settings.bootstrap_servers
        # The worker starts a new group at the earliest offset; lag must be counted the same way.
        assert trigger["metadata"]["offsetResetPolicy"] == "earliest"
    # More workers than partitions would idle: stay within what `topics create` makes.
    partitions = inspect.signature(topics_create).parameters["partitions"].default
    assert scaled["minReplicaCount"] >= 1
    assert scaled["maxReplicaCount"] <= partitions
