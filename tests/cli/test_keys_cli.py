"""`intermission keys new`, `intermission keys reseal` on a real SeaweedFS bucket, and key rings
in `intermission doctor` and at a worker's start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from intermission.cli import app
from intermission.service import Sealer
from intermission.service.runs.keyring import KeyRing, parse_key_ring
from intermission.service.wiring.serve import snapshot_store
from intermission.service.wiring.settings import Settings
from realservices.plugin import S3Bucket
from typer.testing import CliRunner

runner = CliRunner()


def _env(bucket: S3Bucket, **overrides: str) -> dict[str, str]:
    return {
        "INTERMISSION_BUCKET": bucket.name,
        "INTERMISSION_S3_ENDPOINT_URL": bucket.endpoint_url,
        "INTERMISSION_S3_REGION": bucket.region,
        "AWS_ACCESS_KEY_ID": bucket.access_key,
        "AWS_SECRET_ACCESS_KEY": bucket.secret_key,
        "COLUMNS": "250",
        **overrides,
    }


def test_keys_new_prints_a_fresh_line_for_a_ring() -> None:
    first, second = (runner.invoke(app, ["keys", "new", "s2"]) for _ in range(2))
    assert first.exit_code == 0, first.output
    [(key_id, secret)] = parse_key_ring(first.output.strip()).items()
    assert key_id == "s2"
    assert len(secret) == 43
    assert first.output != second.output
    assert runner.invoke(app, ["keys", "new", "no.dots"]).exit_code == 2


@pytest.mark.s3
def test_keys_reseal_rewrites_a_bucket_under_the_current_key(
    s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(s3_bucket)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_bucket.access_key)  # for the stores made here
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_bucket.secret_key)
    settings = Settings.load(env)
    old = Sealer(b"old-seal")
    keys = ["runs/r1/snapshots/00000001", "runs/r1/result"]

    async def put() -> None:
        store = snapshot_store(settings)
        for key in keys:
            await store.create(key, old.seal(key, b'{"k":"' + key.encode() + b'"}'))

    async def read() -> list[bytes]:
        store = snapshot_store(settings)
        found = [await store.get(key) for key in keys]
        return [f.data for f in found if f is not None]

    asyncio.run(put())
    rotated = {**env, "INTERMISSION_SEAL_KEYS": "s2=new-seal", "INTERMISSION_SEAL_KEY": "old-seal"}
    done = runner.invoke(app, ["keys", "reseal"], env=rotated)
    assert done.exit_code == 0, done.output
    assert "resealed 2" in done.output
    retired = Sealer(KeyRing({"s2": b"new-seal"}))
    assert [retired.open(k, d) for k, d in zip(keys, asyncio.run(read()), strict=True)] == [
        b'{"k":"' + k.encode() + b'"}' for k in keys
    ]
    # Without the key that sealed them, nothing is rewritten and the keys are named.
    refused = runner.invoke(app, ["keys", "reseal"], env={**env, "INTERMISSION_SEAL_KEYS": "s3=other"})
    assert refused.exit_code == 1
    assert "runs/r1/result" in refused.output


@pytest.mark.kafka
@pytest.mark.s3
def test_doctor_names_key_ids_and_a_worker_refuses_a_malformed_ring(
    kafka_bootstrap: str, s3_bucket: S3Bucket, kafka_topic_prefix: str
) -> None:
    env = _env(
        s3_bucket,
        INTERMISSION_BOOTSTRAP_SERVERS=kafka_bootstrap,
        INTERMISSION_TOPIC_PREFIX=kafka_topic_prefix,
        INTERMISSION_SEAL_KEYS="s2=new-seal-secret,s1=old-seal-secret",
        INTERMISSION_RESUME_TOKEN_SECRET="token-secret",
    )
    assert runner.invoke(app, ["topics", "create", "--partitions", "1"], env=env).exit_code == 0
    ok = runner.invoke(app, ["doctor"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "s2 (current), s1" in ok.output
    assert "legacy (current)" in ok.output
    assert "secret" not in ok.output.replace("token keys", "")
    bad = {**env, "INTERMISSION_SEAL_KEYS": "s2"}
    finished = subprocess.run(
        [sys.executable, "-m", "intermission.cli", "worker"],
        env={**os.environ, **bad},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2, finished.stderr[-2000:]
    assert "INTERMISSION_SEAL_KEYS" in finished.stderr
