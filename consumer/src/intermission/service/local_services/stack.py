"""Kafka and SeaweedFS together, as `intermission services up` runs them, with the settings that
point a worker, an inbox or a producer at them."""

from __future__ import annotations

from dataclasses import dataclass

from ..adapters.s3 import S3SnapshotStore
from ..wiring.serve import create_topics
from ..wiring.settings import Settings
from .kafka_jars import local_kafka_unavailable
from .kafka_service import KafkaService, start_local_kafka, start_local_kafka_cluster
from .s3_service import S3Service, start_s3
from .weed_server import require_weed

__all__ = ["LocalStack", "start_local_stack"]


@dataclass
class LocalStack:
    kafka: KafkaService
    s3: S3Service
    bucket: str

    @property
    def running(self) -> bool:
        return self.kafka.running and self.s3.running

    def environment(self) -> dict[str, str]:
        """The variables a worker (or inbox, or `intermission submit`) needs to use this stack.

        The S3 keys go in AWS_* variables because boto3 and obstore both read them there, as
        they would on any other S3.
        """
        return {
            "INTERMISSION_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "INTERMISSION_S3_ENDPOINT_URL": self.s3.endpoint_url,
            "INTERMISSION_S3_REGION": self.s3.region,
            "INTERMISSION_BUCKET": self.bucket,
            "AWS_ACCESS_KEY_ID": self.s3.access_key,
            "AWS_SECRET_ACCESS_KEY": self.s3.secret_key,
        }

    async def provision(self, *, partitions: int) -> list[str]:
        """Create the bucket and the five topics (what exists is left as it is; on three brokers
        or more, three replicas each); returns the topic names."""
        settings = Settings.load(self.environment())
        store = S3SnapshotStore(
            self.bucket,
            endpoint_url=self.s3.endpoint_url,
            region=self.s3.region,
            access_key=self.s3.access_key,
            secret_key=self.s3.secret_key,
        )
        with store:
            await store.ensure_bucket()
        return await create_topics(settings, partitions=partitions)

    def stop(self) -> None:
        # Kafka first: it stops cleanly with SIGTERM; SeaweedFS is killed (its data is temporary).
        try:
            self.kafka.stop()
        finally:
            self.s3.stop()


def start_local_stack(
    *, kafka_port: int | None, s3_port: int | None, bucket: str, brokers: int = 1
) -> LocalStack:
    """Start SeaweedFS and Kafka on loopback (None ports: any free ones): one broker, or a
    KRaft cluster of ``brokers`` (``kafka_port`` is then the first one's port).

    Every prerequisite is checked before anything starts, so a missing one fails in
    milliseconds with its own error: `ServicesExtraMissingError` (no `weed`),
    `JavaToolsMissingError` (no Java 17+, or no Maven before the jars are cached).
    """
    require_weed()
    problem = local_kafka_unavailable()
    if problem is not None:
        raise problem
    s3 = start_s3(port=s3_port)
    try:
        if brokers > 1:
            kafka = start_local_kafka_cluster(brokers, port=kafka_port)
        else:
            kafka = start_local_kafka(port=kafka_port)
    except BaseException:
        s3.stop()
        raise
    return LocalStack(kafka=kafka, s3=s3, bucket=bucket)
