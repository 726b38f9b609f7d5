"""deploy/k8s agrees with Kubernetes, with KEDA and with the product: schemas, setting names,
topics, group, ports, secrets and pod hardening.

No cluster runs here, so every object is validated offline in strict mode (unknown fields
refused) against the Kubernetes JSON schemas that kubernetes-validate bundles, the KEDA
ScaledObject against our own strict schema (keda-scaledobject.schema.json), and the rest is
checked as data against the settings object, the topic contract and the CLI defaults.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
from deploy_manifests import (
    COMPOSE_FILE,
    DEPLOY,
    K8S,
    REPO,
    container,
    container_environment,
    deployments,
    dockerfile_stages,
    health_port_default,
    k8s_object,
    k8s_objects,
    secret_settings,
    setting_variables,
)
from intermission._cli._service import topics_create
from intermission.service.wiring.settings import Settings
from kubernetes_validate.utils import latest_version

_VARIABLE = re.compile(r"\bINTERMISSION_[A-Z0-9_]+\b")
KEDA_SCHEMA = Path(__file__).with_name("keda-scaledobject.schema.json")
# The oldest Kubernetes the manifests promise to fit, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30", latest_version())
# Not Kubernetes API objects: checked by their own tests below.
_NOT_IN_KUBERNETES_SCHEMAS = {"Kustomization", "ScaledObject"}


def _name(document: dict[str, Any]) -> str:
    return f"{document['kind']}/{document['metadata']['name'] if 'metadata' in document else '-'}"


def _validate_keda(document: dict[str, Any]) -> None:
    schema = json.loads(KEDA_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(document)


def _validate(document: dict[str, Any], version: str) -> None:
    if document["kind"] == "ScaledObject":
        _validate_keda(document)
    else:
        kubernetes_validate.validate(document, version, strict=True)


def test_every_manifest_parses_and_kustomize_lists_them_all() -> None:
    assert {_name(o) for o in k8s_objects()} == {
        "ConfigMap/intermission",
        "ConfigMap/intermission-inbox",
        "ConfigMap/intermission-webhooks",
        "ConfigMap/intermission-worker",
        "Deployment/intermission-inbox",
        "Deployment/intermission-webhooks",
        "Deployment/intermission-worker",
        "Kustomization/-",
        "NetworkPolicy/intermission-inbox",
        "PodDisruptionBudget/intermission-inbox",
        "PodDisruptionBudget/intermission-webhooks",
        "PodDisruptionBudget/intermission-worker",
        "ScaledObject/intermission-worker",
        "Secret/intermission",
        "Secret/intermission-webhooks",
        "Service/intermission-inbox",
        "ServiceAccount/intermission-inbox",
        "ServiceAccount/intermission-webhooks",
        "ServiceAccount/intermission-worker",
    }
    listed = set(k8s_object("Kustomization")["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "document", [o for o in k8s_objects() if o["kind"] not in _NOT_IN_KUBERNETES_SCHEMAS], ids=_name
)
def test_every_object_is_valid_kubernetes_in_strict_mode(document: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(document, version, strict=True)


def test_the_scaled_object_is_valid_for_keda() -> None:
    _validate_keda(k8s_object("ScaledObject"))


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with ``value`` at the dotted ``path`` (numbers index lists)."""
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    node: Any = changed
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[last] = value
    return changed


_POD = "spec.template.spec"
_BROKEN = [
    # A misspelt field: the API server would drop it (or refuse it) with no probe at all.
    ("Deployment", "intermission-worker", f"{_POD}.containers.0.livenesProbe_", {"httpGet": {"port": 1}}),
    ("Deployment", "intermission-inbox", f"{_POD}.securityContext.seccomp", {"type": "RuntimeDefault"}),
    # Wrong types.
    ("Deployment", "intermission-inbox", "spec.replicas", "2"),
    ("Service", "intermission-inbox", "spec.ports.0.port", "http"),
    ("ConfigMap", "intermission-worker", "data.INTERMISSION_PROCESSES", 1),
    # KEDA: an unknown field, a misspelt Kafka parameter, a number where KEDA takes only strings.
    ("ScaledObject", "intermission-worker", "spec.maxReplicas", 6),
    ("ScaledObject", "intermission-worker", "spec.triggers.0.metadata.lagTreshold", "20"),
    ("ScaledObject", "intermission-worker", "spec.triggers.0.metadata.lagThreshold", 20),
    ("ScaledObject", "intermission-worker", "spec.minReplicaCount", "1"),
    ("ScaledObject", "intermission-worker", "spec.triggers.1.metadata", {"topic": "intermission.resumes"}),
]


@pytest.mark.parametrize(("kind", "name", "path", "value"), _BROKEN, ids=lambda v: str(v))
def test_the_validators_refuse_an_unknown_field_and_a_wrong_type(
    kind: str, name: str, path: str, value: Any
) -> None:
    broken = _set(k8s_object(kind, name), path, value)
    for version in KUBERNETES_VERSIONS:
        with pytest.raises(jsonschema.ValidationError):
            _validate(broken, version)


def test_every_intermission_variable_named_in_deploy_is_a_real_setting() -> None:
    known = setting_variables()
    for path in [*K8S.glob("*.yaml"), COMPOSE_FILE, DEPLOY / "Dockerfile", DEPLOY / "README.md"]:
        unknown = set(_VARIABLE.findall(path.read_text())) - known
        assert not unknown, f"{path.relative_to(DEPLOY)} names variables no setting reads: {unknown}"


@pytest.mark.parametrize("deployment", ["intermission-worker", "intermission-inbox"])
def test_each_environment_loads_and_has_what_its_command_requires(deployment: str) -> None:
    settings = Settings.load(container_environment(deployment))
    # Both seal or check seals; the inbox reads histories from the bucket.
    settings.require("bootstrap_servers", "bucket", "seal_key")


def test_workers_and_inboxes_share_brokers_topics_bucket_and_app() -> None:
    shared = k8s_object("ConfigMap", "intermission")
    for name in deployments():
        sources = [s["configMapRef"]["name"] for s in container(name).get("envFrom", [])]
        assert sources[0] == shared["metadata"]["name"], "the shared settings first, then its own"
        for own in sources[1:]:
            overridden = set(k8s_object("ConfigMap", own)["data"]) & set(shared["data"])
            assert not overridden, f"{own} overrides shared settings: {overridden}"
    worker, inbox = (
        Settings.load(container_environment(n)) for n in ("intermission-worker", "intermission-inbox")
    )
    for setting in ("bootstrap_servers", "topics", "bucket", "prefix", "s3_region", "s3_endpoint_url", "app"):
        assert getattr(worker, setting) == getattr(inbox, setting), setting
    seal = [
        v["valueFrom"]
        for n in deployments()
        for v in container(n)["env"]
        if v["name"] == "INTERMISSION_SEAL_KEY"
    ]
    assert len(seal) == 2
    assert seal[0] == seal[1]


def test_secrets_come_from_the_secret_never_from_a_configmap() -> None:
    secret = k8s_object("Secret", "intermission")
    for configmap in (o for o in k8s_objects() if o["kind"] == "ConfigMap"):
        assert not set(configmap["data"]) & secret_settings(), configmap["metadata"]["name"]
    for name in deployments():
        for variable in container(name)["env"]:
            reference = variable["valueFrom"]["secretKeyRef"]
            assert reference["name"] == secret["metadata"]["name"]
            assert reference["key"] in secret["stringData"], reference


# The Secret keys a pod cannot start without: the seal key, and the CSRF secret the inbox's
# replicas must share. Everything else may be left out of the Secret.
_REQUIRED_KEYS = {
    "intermission-worker": {"snapshot-key"},
    "intermission-inbox": {"snapshot-key", "inbox-csrf-secret"},
}


@pytest.mark.parametrize(("deployment", "required"), _REQUIRED_KEYS.items())
def test_secret_keys_are_optional_except_those_a_pod_cannot_run_without(
    deployment: str, required: set[str]
) -> None:
    """The Gemini key (an app may bring its own model) and the S3 keys (IRSA) may be left out of
    the Secret; a pod that references a missing key without `optional` never starts."""
    optional = {
        v["valueFrom"]["secretKeyRef"]["key"]: v["valueFrom"]["secretKeyRef"].get("optional", False)
        for v in container(deployment)["env"]
    }
    assert {key for key, is_optional in optional.items() if not is_optional} == required
    assert set(optional) - required, "and some optional ones"


def test_the_worker_takes_the_gemini_key_when_there_is_one() -> None:
    [gemini] = [v for v in container("intermission-worker")["env"] if v["name"] == "GEMINI_API_KEY"]
    assert gemini["valueFrom"]["secretKeyRef"] == {
        "name": "intermission",
        "key": "gemini-api-key",
        "optional": True,
    }


def test_worker_probes_and_scrape_annotation_use_the_health_port() -> None:
    worker = container("intermission-worker")
    [port] = worker["ports"]
    assert port["name"] == "health"
    assert port["containerPort"] == health_port_default()
    assert container_environment("intermission-worker")["INTERMISSION_HEALTH_PORT"] == str(
        health_port_default()
    )
    assert worker["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert worker["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    annotations = deployments()["intermission-worker"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(health_port_default())
    assert annotations["prometheus.io/path"] == "/metrics"


def _flag(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_the_inbox_is_probed_and_served_on_its_http_port_with_a_host_it_accepts() -> None:
    inbox = container("intermission-inbox")
    assert inbox["args"][0] == "inbox"
    [port] = inbox["ports"]
    assert port["name"] == "http"
    assert int(_flag(inbox["args"], "--port")) == port["containerPort"]
    # Reachable from the kubelet and the proxy, not only from inside the pod.
    assert _flag(inbox["args"], "--host") == "0.0.0.0"
    allowed = container_environment("intermission-inbox")["INTERMISSION_INBOX_ALLOWED_HOSTS"].split(",")
    for probe in (inbox["livenessProbe"], inbox["readinessProbe"]):
        assert probe["httpGet"]["port"] == "http"
        assert {h["name"]: h["value"] for h in probe["httpGet"]["httpHeaders"]}["Host"] == allowed[0]
    labels = deployments()["intermission-inbox"]["spec"]["template"]["metadata"]["labels"]
    service = k8s_object("Service", "intermission-inbox")["spec"]
    assert service["type"] == "ClusterIP"
    assert service["selector"].items() <= labels.items()
    assert [p["targetPort"] for p in service["ports"]] == ["http"]
    policy = k8s_object("NetworkPolicy", "intermission-inbox")["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()
    assert policy["policyTypes"] == ["Ingress"]
    [rule] = policy["ingress"]
    assert rule["from"], "from someone: the proxy"
    assert [p["port"] for p in rule["ports"]] == ["http"]


def _image_user() -> tuple[int, int]:
    [user] = [i.argument for i in dockerfile_stages()[-1] if i.keyword == "USER"]
    uid, _, gid = user.partition(":")
    return int(uid), int(gid or uid)


@pytest.mark.parametrize("deployment", ["intermission-worker", "intermission-inbox"])
def test_every_pod_runs_confined(deployment: str) -> None:
    pod = deployments()[deployment]["spec"]["template"]["spec"]
    context = pod["securityContext"]
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["runAsNonRoot"] is True
    assert (context["runAsUser"], context["runAsGroup"]) == _image_user()
    assert pod["automountServiceAccountToken"] is False
    writable = {v["name"] for v in pod.get("volumes", []) if set(v) == {"name", "emptyDir"}}
    for each in pod["containers"]:
        assert each["securityContext"]["allowPrivilegeEscalation"] is False
        assert each["securityContext"]["readOnlyRootFilesystem"] is True
        assert each["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert "seccompProfile" not in each["securityContext"], "the pod's profile, not another"
        assert {m["name"] for m in each.get("volumeMounts", [])} <= writable
        assert each["resources"]["requests"]
        assert each["resources"]["limits"]["memory"]


def test_the_pod_outlives_the_workers_shutdown_grace() -> None:
    pod = deployments()["intermission-worker"]["spec"]["template"]["spec"]
    settings = Settings.load(container_environment("intermission-worker"))
    assert pod["terminationGracePeriodSeconds"] > settings.shutdown_grace_seconds


def test_keda_alone_sets_the_workers_replica_count() -> None:
    """A `replicas` in the Deployment resets KEDA's count on every `kubectl apply`."""
    target = k8s_object("ScaledObject")["spec"]["scaleTargetRef"]
    assert target.get("kind", "Deployment") == "Deployment"
    assert "replicas" not in deployments()[target["name"]]["spec"]


def test_budget_autoscaler_and_service_accounts_point_at_their_pods() -> None:
    worker = deployments()["intermission-worker"]
    assert k8s_object("ScaledObject")["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    for name, deployment in deployments().items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        budget = k8s_object("PodDisruptionBudget", name)["spec"]
        assert budget["selector"]["matchLabels"].items() <= labels.items()
        assert budget["maxUnavailable"] == 1
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        assert k8s_object("ServiceAccount", account)
        assert account == name, "one identity each: the inbox only reads the bucket"


def test_keda_scales_on_the_lag_of_the_workers_group_on_its_input_topics() -> None:
    settings = Settings.load(container_environment("intermission-worker"))
    scaled = k8s_object("ScaledObject")["spec"]
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


def _statements() -> list[tuple[str, str]]:
    """(where, text) of each comment block of deploy/k8s and each paragraph of the READMEs'
    deploying parts, whitespace and comment marks folded."""
    found: list[tuple[str, str]] = []
    for path in sorted(K8S.glob("*.yaml")):
        blocks = re.split(r"\n(?!\s*#)", path.read_text())
        found += [(path.name, " ".join(re.findall(r"#\s*(.*)", block))) for block in blocks]
    readme = (REPO / "README.md").read_text()
    deploying = readme[readme.index("### Deploying") : readme.index("### Scaling")]
    for where, text in (("deploy/README.md", (DEPLOY / "README.md").read_text()), ("README.md", deploying)):
        found += [(where, " ".join(p.split())) for p in re.split(r"\n\s*\n|\n- ", text)]
    return found


def test_every_word_on_workload_identity_says_it_gives_no_s3_keys() -> None:
    """GKE and AKS workload identity hand out Google or Azure tokens, which S3 does not take:
    nothing in deploy/ may offer it as the pods' S3 identity."""
    mentions = [(w, t) for w, t in _statements() if "workload identity" in t.lower()]
    assert len(mentions) >= 3
    for where, text in mentions:
        assert re.search(r"\bno(t)? S3\b", text), f"{where}: {text}"
