"""The webhook dispatcher's Deployment: its environment loads, names a subscriptions file that
the mounted Secret provides, and that file (the example in the Secret) parses."""

from __future__ import annotations

from pathlib import PurePosixPath

from deploy_manifests import container, container_environment, deployments, health_port_default, k8s_object
from intermission.service.wiring.settings import Settings
from intermission.webhooks import parse_subscriptions


def test_the_dispatcher_loads_its_settings_and_its_mounted_subscriptions() -> None:
    settings = Settings.load(container_environment("intermission-webhooks"))
    settings.require("bootstrap_servers", "webhooks_file", "inbox_public_url")
    assert settings.health_port == health_port_default()
    assert settings.topics == Settings.load(container_environment("intermission-worker")).topics
    assert container("intermission-webhooks")["args"] == ["webhooks"]
    assert settings.webhooks_file is not None
    path = PurePosixPath(settings.webhooks_file)
    [mount] = [
        m for m in container("intermission-webhooks")["volumeMounts"] if m["mountPath"] == str(path.parent)
    ]
    spec = deployments()["intermission-webhooks"]["spec"]["template"]["spec"]
    [volume] = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    secret = k8s_object("Secret", volume["secret"]["secretName"])
    [subscription] = parse_subscriptions(secret["stringData"][path.name].encode(), str(path))
    assert subscription.url.startswith("https://")
