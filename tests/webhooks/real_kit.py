"""A real deployment for webhook tests: a worker and an inbox on real Kafka and SeaweedFS (in
this process, as in tests/inbox/test_inbox_browser_real.py), and the webhook dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from intermission.inbox.serve import serve_inbox
from intermission.service.adapters.kafka import KafkaPublisher, KafkaSubscription
from intermission.service.adapters.s3 import S3SnapshotStore
from intermission.service.demo import app as demo
from intermission.service.wiring.compose import build_worker
from intermission.service.wiring.serve import create_topics
from intermission.service.wiring.settings import Settings
from intermission.webhooks import Subscription, WebhookMetrics
from intermission.webhooks.serve import run_webhooks
from intermission_producer import KafkaTransport
from intermission_schemas import GenerateRequest, Message, RunCompleted, TextPart, decode_result, encode
from pydantic import SecretStr
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket
from receiver_kit import SECRET


def settings_for(bootstrap: str, *, max_pending: int = 1000) -> Settings:
    prefix = f"hooks-{uuid.uuid4().hex[:8]}."
    return Settings(
        bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        group_id=f"{prefix}workers",
        resume_token_secret=SecretStr("webhook-test-token-secret"),
        inbox_identity="approval-system",
        webhooks_group_id=f"{prefix}webhooks",
        # Short waits: the receiver's outage lasts minutes here, not hours.
        webhooks_retry_base_seconds=0.5,
        webhooks_retry_cap_seconds=4.0,
        webhooks_timeout_seconds=5.0,
        webhooks_max_pending=max_pending,
        health_port=0,
    )


def command_environment(settings: Settings, hooks: Path, url: str) -> dict[str, str]:
    """Variables for `intermission webhooks` and `dlq webhooks` on ``settings``' brokers and
    topics, with a subscriptions file at ``hooks`` naming one subscription, "tickets", at ``url``."""
    hooks.write_text(f"subscriptions:\n  - {{id: tickets, url: '{url}', secret: {SECRET}}}\n")
    assert settings.bootstrap_servers is not None
    return {
        "INTERMISSION_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "INTERMISSION_TOPIC_PREFIX": settings.topic_prefix,
        "INTERMISSION_WEBHOOKS_FILE": str(hooks),
        "INTERMISSION_WEBHOOKS_GROUP_ID": settings.webhooks_group_id,
    }


def transfer(run_id: str) -> GenerateRequest:
    return GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        messages=[Message(role="user", content=[TextPart(text="Transfer $1000 to ABC123")])],
        tools=["transferMoney"],
    )


@dataclass
class Deployment:
    settings: Settings
    inbox_url: str
    transport: KafkaTransport
    completed: set[str] = field(default_factory=set)

    async def submit(self, requests: Sequence[GenerateRequest]) -> None:
        for request in requests:
            await self.transport.publish(self.settings.topics.requests, request.run_id, encode(request))

    async def wait_completed(self, run_ids: set[str], seconds: float) -> None:
        async with asyncio.timeout(seconds):
            while not run_ids <= self.completed:  # noqa: ASYNC110 (filled by the reader task)
                await asyncio.sleep(0.2)


@contextlib.asynccontextmanager
async def deployment(
    bootstrap: str, bucket: S3Bucket, *, max_pending: int = 1000
) -> AsyncIterator[Deployment]:
    settings = settings_for(bootstrap, max_pending=max_pending)
    store = S3SnapshotStore(
        bucket=bucket.name,
        prefix="hooks/",
        endpoint_url=bucket.endpoint_url,
        region=bucket.region,
        access_key=bucket.access_key,
        secret_key=bucket.secret_key,
    )
    await create_topics(settings, partitions=2)
    topics = settings.topics
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with (
        KafkaPublisher(bootstrap) as publisher,
        KafkaSubscription(
            bootstrap,
            [topics.requests, topics.resumes],
            settings.group_id,
            consumer_options=fast_consumer_kwargs(),
        ) as subscription,
        KafkaTransport(bootstrap, consumer_options=fast_consumer_kwargs()) as transport,
    ):
        worker = build_worker(settings, store=store, publisher=publisher, ai=demo.ai)
        serving = asyncio.create_task(worker.run(subscription))
        inbox = asyncio.create_task(
            serve_inbox(
                settings,
                port=0,
                store=store,
                consumer_options=fast_consumer_kwargs(),
                on_ready=ready.set_result,
                stop=stop,
            )
        )
        async with asyncio.timeout(60):
            inbox_url = (await ready).rstrip("/")
        found = Deployment(settings, inbox_url, transport)
        results = asyncio.create_task(_collect_completed(transport, topics.results, found.completed))
        try:
            yield found
        finally:
            results.cancel()
            stop.set()
            async with asyncio.timeout(30):
                await inbox
            worker.stop()
            async with asyncio.timeout(30):
                await serving
            with contextlib.suppress(asyncio.CancelledError):
                await results


async def _collect_completed(transport: KafkaTransport, topic: str, into: set[str]) -> None:
    async with transport.read([topic], start="beginning") as records:
        async for record in records:
            if record.value is not None and isinstance(event := decode_result(record.value), RunCompleted):
                into.add(event.run_id)


@contextlib.asynccontextmanager
async def dispatcher(
    found: Deployment, subscriptions: Sequence[Subscription], metrics: WebhookMetrics
) -> AsyncIterator[None]:
    settings = found.settings.model_copy(update={"inbox_public_url": found.inbox_url})
    stop = asyncio.Event()
    running = asyncio.create_task(
        run_webhooks(
            settings,
            subscriptions=subscriptions,
            consumer_options=fast_consumer_kwargs(),
            stop=stop,
            metrics=metrics,
        )
    )
    try:
        yield
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await running
