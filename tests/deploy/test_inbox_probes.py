"""The kubelet's probes of deploy/k8s/inbox.yaml, sent to `intermission inbox` as the Deployment
runs it: its arguments and its environment (ConfigMaps and Secret references), with only the
addresses of Kafka and S3, and the app, replaced by the test's real broker, bucket and the demo.

The probes carry no identity, while the ConfigMap configures one: the path they fetch must stay
answerable without it, and the Host they send must be one the inbox accepts, or the pods would
never become ready once identity and host checks are on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest
from deploy_manifests import container, container_environment
from intermission.service.wiring.serve import create_topics
from intermission.service.wiring.settings import Settings
from realservices.plugin import S3Bucket

pytestmark = [pytest.mark.kafka, pytest.mark.s3]

_ANNOUNCED = re.compile(rb"Intermission inbox at (http://\S+/)")


def _environment(kafka_bootstrap: str, prefix: str, bucket: S3Bucket) -> dict[str, str]:
    environment = container_environment("intermission-inbox")
    assert "INTERMISSION_INBOX_IDENTITY_HEADER" in environment, "probes without the identity it asks"
    del environment["INTERMISSION_APP"]  # the example's module: the demo app stands in
    environment |= {
        "INTERMISSION_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "INTERMISSION_TOPIC_PREFIX": prefix,
        "INTERMISSION_BUCKET": bucket.name,
        "INTERMISSION_S3_ENDPOINT_URL": bucket.endpoint_url,
        "INTERMISSION_S3_REGION": bucket.region,
        "AWS_ACCESS_KEY_ID": bucket.access_key,
        "AWS_SECRET_ACCESS_KEY": bucket.secret_key,
    }
    # Only what the pod would have: nothing of this process's own INTERMISSION_* settings.
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("INTERMISSION_", "AWS_"))}
    return inherited | environment


def _arguments() -> list[str]:
    """The container's args, on a free loopback port instead of 0.0.0.0:8765."""
    arguments = list(container("intermission-inbox")["args"])
    arguments[arguments.index("--host") + 1] = "127.0.0.1"
    arguments[arguments.index("--port") + 1] = "0"
    return arguments


async def test_the_kubelets_probes_find_the_inbox_ready_and_alive(
    kafka_bootstrap: str, kafka_topic_prefix: str, s3_bucket: S3Bucket
) -> None:
    environment = _environment(kafka_bootstrap, kafka_topic_prefix, s3_bucket)
    await create_topics(Settings.load(environment), partitions=1)
    entry_point = Path(sys.executable).with_name("intermission")
    process = await asyncio.create_subprocess_exec(
        str(entry_point),
        *_arguments(),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output = b""
    try:
        async with asyncio.timeout(90):
            while not (announced := _ANNOUNCED.search(output)):
                line = await process.stdout.readline()
                assert line, f"the inbox exited before serving: {output.decode()[-2000:]}"
                output += line
        inbox = container("intermission-inbox")
        async with httpx.AsyncClient(base_url=announced.group(1).decode(), timeout=10) as client:
            for kind in ("readinessProbe", "livenessProbe"):
                probe = inbox[kind]["httpGet"]
                headers = {h["name"]: h["value"] for h in probe.get("httpHeaders", [])}
                answer = await client.get(probe["path"], headers={"User-Agent": "kube-probe/1.30", **headers})
                # The kubelet's rule: any status from 200 to 399 passes.
                assert 200 <= answer.status_code < 400, (kind, answer.status_code, answer.text[:500])
    finally:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await process.wait()
        if process.returncode is None:
            process.kill()
            await process.wait()
