"""The environment a worker process of the tests runs with: the session's broker and a bucket."""

from __future__ import annotations

import os

from .plugin import S3Bucket

__all__ = ["worker_environment"]


def worker_environment(kafka_bootstrap: str, group_id: str, bucket: S3Bucket) -> dict[str, str]:
    """This environment without model keys (the default app picks Gemini when one is set), with
    the settings of Kafka, the bucket and its credentials, and no fixed health port: tests run
    side by side."""
    return {
        **{k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")},
        "INTERMISSION_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "INTERMISSION_GROUP_ID": group_id,
        "INTERMISSION_BUCKET": bucket.name,
        "INTERMISSION_S3_ENDPOINT_URL": bucket.endpoint_url,
        "AWS_ACCESS_KEY_ID": bucket.access_key,
        "AWS_SECRET_ACCESS_KEY": bucket.secret_key,
        "AWS_DEFAULT_REGION": bucket.region,
        "INTERMISSION_HEALTH_PORT": "0",
    }
