"""The same walk through the inbox as test_inbox_browser, against real Kafka and SeaweedFS:
a production worker on them, and the inbox as `intermission inbox` serves it (KafkaTransport,
the S3 store for histories)."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from browser_kit import approve_a_transfer, chromium
from intermission.inbox.serve import serve_inbox
from intermission.service.adapters.kafka import KafkaPublisher, KafkaSubscription
from intermission.service.adapters.s3 import S3SnapshotStore
from intermission.service.demo import app as demo
from intermission.service.wiring.compose import build_worker
from intermission.service.wiring.serve import create_topics
from intermission.service.wiring.settings import Settings
from pydantic import SecretStr
from realservices.kafka import fast_consumer_kwargs

pytestmark = [pytest.mark.kafka, pytest.mark.s3]


async def test_inbox_on_kafka_and_seaweedfs_in_chromium(kafka_bootstrap: str, s3_bucket: object) -> None:
    prefix = f"inbox-{uuid.uuid4().hex[:8]}."
    settings = Settings(
        bootstrap_servers=kafka_bootstrap,
        topic_prefix=prefix,
        group_id=f"{prefix}workers",
        resume_token_secret=SecretStr("real-inbox-secret"),
        inbox_identity="alice",
    )
    bucket = s3_bucket
    store = S3SnapshotStore(
        bucket=bucket.name,  # type: ignore[attr-defined]
        prefix="inbox/",
        endpoint_url=bucket.endpoint_url,  # type: ignore[attr-defined]
        region=bucket.region,  # type: ignore[attr-defined]
        access_key=bucket.access_key,  # type: ignore[attr-defined]
        secret_key=bucket.secret_key,  # type: ignore[attr-defined]
    )
    await create_topics(settings, partitions=2)
    topics = settings.topics
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    async with (
        KafkaPublisher(kafka_bootstrap) as publisher,
        KafkaSubscription(
            kafka_bootstrap,
            [topics.requests, topics.resumes],
            settings.group_id,
            consumer_options=fast_consumer_kwargs(),
        ) as subscription,
    ):
        worker = build_worker(settings, store=store, publisher=publisher, ai=demo.ai)
        serving = asyncio.create_task(worker.run(subscription))
        inbox = asyncio.create_task(
            serve_inbox(settings, port=0, store=store, on_ready=ready.set_result, stop=stop)
        )
        try:
            url = await asyncio.wait_for(ready, 60)
            async with chromium() as browser:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                run_id = await approve_a_transfer(page, url)
            async with httpx.AsyncClient(base_url=url) as client:
                state = (await client.get(f"/api/runs/{run_id}")).json()
            assert state["status"] == "completed"
            assert [a["answeredBy"] for a in state["answers"]] == ["alice"]
        finally:
            stop.set()
            await asyncio.wait_for(inbox, 30)
            worker.stop()
            await asyncio.wait_for(serving, 30)
