"""Real services for the test suite: an Apache Kafka broker and an S3-compatible server.

Load the fixtures with ``pytest_plugins = ["realservices.plugin"]`` in ``tests/conftest.py``.
"""

from .kafka import (
    KAFKA_VERSION,
    LOCAL_MIN_SESSION_TIMEOUT_MS,
    KafkaService,
    KafkaUnavailableError,
    ensure_kafka_jars,
    fast_consumer_kwargs,
    start_kafka,
    start_local_kafka,
    start_local_kafka_cluster,
    topic_replication,
)
from .s3 import S3Service, S3UnavailableError, s3_client, start_s3, unique_bucket_name

__all__ = [
    "KAFKA_VERSION",
    "LOCAL_MIN_SESSION_TIMEOUT_MS",
    "KafkaService",
    "KafkaUnavailableError",
    "S3Service",
    "S3UnavailableError",
    "ensure_kafka_jars",
    "fast_consumer_kwargs",
    "s3_client",
    "start_kafka",
    "start_local_kafka",
    "start_local_kafka_cluster",
    "start_s3",
    "topic_replication",
    "unique_bucket_name",
]
