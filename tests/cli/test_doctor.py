"""`intermission doctor` and the worker's start-up checks, against real Kafka and SeaweedFS."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from intermission.cli import app
from realservices.plugin import S3Bucket
from typer.testing import CliRunner

runner = CliRunner()

pytestmark = [pytest.mark.kafka, pytest.mark.s3]


def _env(bootstrap: str, bucket: S3Bucket, prefix: str, **overrides: str) -> dict[str, str]:
    return {
        "INTERMISSION_BOOTSTRAP_SERVERS": bootstrap,
        "INTERMISSION_BUCKET": bucket.name,
        "INTERMISSION_S3_ENDPOINT_URL": bucket.endpoint_url,
        "INTERMISSION_S3_REGION": bucket.region,
        "AWS_ACCESS_KEY_ID": bucket.access_key,
        "AWS_SECRET_ACCESS_KEY": bucket.secret_key,
        "INTERMISSION_TOPIC_PREFIX": prefix,
        "COLUMNS": "250",  # one table row per line
        **overrides,
    }


def test_doctor_passes_once_the_topics_exist(
    kafka_bootstrap: str, s3_bucket: S3Bucket, kafka_topic_prefix: str
) -> None:
    env = _env(kafka_bootstrap, s3_bucket, kafka_topic_prefix)
    missing = runner.invoke(app, ["doctor"], env=env)
    assert missing.exit_code == 2, missing.output
    assert "INTERMISSION_TOPIC_REQUESTS" in missing.output
    created = runner.invoke(app, ["topics", "create", "--partitions", "2"], env=env)
    assert created.exit_code == 0, created.output
    ok = runner.invoke(app, ["doctor"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "If-None-Match and If-Match are honoured" in ok.output
    assert "FAIL" not in ok.output


def test_a_worker_with_a_missing_bucket_refuses_to_start_and_names_the_setting(
    kafka_bootstrap: str, s3_bucket: S3Bucket, kafka_topic_prefix: str
) -> None:
    env = _env(kafka_bootstrap, s3_bucket, kafka_topic_prefix)
    assert runner.invoke(app, ["topics", "create", "--partitions", "1"], env=env).exit_code == 0
    env["INTERMISSION_BUCKET"] = "does-not-exist-" + kafka_topic_prefix.strip("-")[-8:]
    finished = subprocess.run(
        [sys.executable, "-m", "intermission.cli", "worker"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2, finished.stderr[-2000:]
    assert "INTERMISSION_BUCKET" in finished.stderr
    assert "does not exist" in finished.stderr


def test_a_worker_with_a_wrong_endpoint_refuses_to_start_and_names_the_setting(
    kafka_bootstrap: str, s3_bucket: S3Bucket, kafka_topic_prefix: str
) -> None:
    env = _env(
        kafka_bootstrap, s3_bucket, kafka_topic_prefix, INTERMISSION_S3_ENDPOINT_URL="http://127.0.0.1:9"
    )
    assert runner.invoke(app, ["topics", "create", "--partitions", "1"], env=env).exit_code == 0
    finished = subprocess.run(
        [sys.executable, "-m", "intermission.cli", "worker"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 2, finished.stderr[-2000:]
    assert "INTERMISSION_S3_ENDPOINT_URL" in finished.stderr
