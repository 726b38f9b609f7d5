"""Running the worker for real: Kafka in, Kafka out, snapshots in S3."""

from __future__ import annotations

import asyncio
import logging

from ..._app import Intermission
from ..adapters.kafka import KafkaPublisher, KafkaSubscription, ensure_topics
from ..adapters.s3 import S3SnapshotStore
from ..observe.liveness import Progress
from ..observe.metrics import Metrics
from ..observe.observer import Observers
from ..ports import SnapshotStore
from .checks import raise_first_failure, run_checks, topic_limit
from .compose import build_worker
from .operations import operated
from .settings import Settings

log = logging.getLogger("intermission.worker")


def snapshot_store(settings: Settings) -> SnapshotStore:
    """The object store the settings name: S3 through boto3 or through obstore."""
    settings.require("bucket")
    assert settings.bucket is not None
    if settings.s3_client == "obstore":
        from ..adapters.obstore import ObstoreSnapshotStore

        return ObstoreSnapshotStore(
            settings.bucket, settings.prefix, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
        )
    return S3SnapshotStore(
        settings.bucket, settings.prefix, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region
    )


async def create_topics(
    settings: Settings, *, partitions: int = 6, replication: int | None = None
) -> list[str]:
    """The five topics, with a max.message.bytes that fits every record the worker publishes;
    ``replication`` None: as many replicas as the cluster allows (see `ensure_topics`)."""
    settings.require("bootstrap_servers")
    assert settings.bootstrap_servers is not None
    names = settings.topics.all()
    await ensure_topics(
        settings.bootstrap_servers,
        names,
        partitions,
        replication,
        security=settings.kafka_security(),
        configs={"max.message.bytes": str(topic_limit(settings))},
    )
    return names


async def run_worker(
    settings: Settings,
    *,
    ai: Intermission | None = None,
    consumer_options: dict[str, object] | None = None,
    stop: asyncio.Event | None = None,
    check: bool = True,
) -> None:
    """Serve until ``stop`` is set (or the task is cancelled).

    Fails fast: on missing settings, and (``check``) when the bucket, its conditional writes or
    the topics are not as they must be (SettingsError naming the variable). On ``stop`` the
    worker takes no more records, lets those in flight finish within the grace period, commits
    them, and leaves the group. Meanwhile ``/healthz``, ``/readyz`` and ``/metrics`` answer on
    ``settings.health_port`` (0: not served).
    """
    settings.require("bootstrap_servers", "bucket")
    assert settings.bootstrap_servers is not None
    store = snapshot_store(settings)
    if check:
        raise_first_failure(await run_checks(settings, store))
    topics = settings.topics
    security = settings.kafka_security()
    async with (
        KafkaPublisher(
            settings.bootstrap_servers, security=security, max_request_size=topic_limit(settings)
        ) as publisher,
        KafkaSubscription(
            settings.bootstrap_servers,
            [topics.requests, topics.resumes],
            settings.group_id,
            security=security,
            consumer_options=consumer_options,
        ) as subscription,
    ):
        metrics = Metrics()  # this worker's own registry
        progress = Progress(settings.liveness_stall_seconds)
        observer = Observers(metrics, progress)
        worker = build_worker(settings, store=store, publisher=publisher, ai=ai, observer=observer)
        async with operated(
            settings, worker, store=store, subscription=subscription, metrics=metrics, progress=progress
        ):
            serving = asyncio.create_task(worker.run(subscription))
            log.info(
                "worker serving %s and %s as group %s", topics.requests, topics.resumes, settings.group_id
            )
            if stop is None:
                await serving
                return
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait([serving, stopper], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            worker.stop()
            try:
                # The worker gives up on records still running after its grace period itself.
                async with asyncio.timeout(settings.shutdown_grace_seconds + 10):
                    await serving
            except TimeoutError:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
