"""`intermission webhooks`: one lane per subscription on Kafka, one HTTP client, one publisher
for dead letters, and /healthz, /readyz and /metrics on the health port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import msgspec

from ..service.adapters.kafka import KafkaPublisher, KafkaSubscription, ensure_topics
from ..service.observe.endpoints import Endpoints, ReadinessReport
from ..service.wiring.settings import Settings
from .delivery import Sender
from .lane import Lane
from .metrics import WebhookMetrics
from .retry import RetryPolicy
from .subscriptions import Subscription, load_subscriptions

__all__ = ["retry_policy", "run_webhooks", "subscriptions_of"]

log = logging.getLogger("intermission.webhooks")


def subscriptions_of(settings: Settings) -> tuple[Subscription, ...]:
    settings.require("webhooks_file")
    assert settings.webhooks_file is not None
    return load_subscriptions(settings.webhooks_file)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        base_seconds=settings.webhooks_retry_base_seconds,
        cap_seconds=settings.webhooks_retry_cap_seconds,
        max_age_seconds=settings.webhooks_max_age_seconds,
    )


def http_client() -> httpx.AsyncClient:
    # Redirects are not followed: a signed body is for the URL it was signed for.
    return httpx.AsyncClient(
        follow_redirects=False, timeout=None, headers={"user-agent": "intermission-webhooks"}
    )


async def run_webhooks(
    settings: Settings,
    *,
    subscriptions: Sequence[Subscription] | None = None,
    consumer_options: dict[str, Any] | None = None,
    stop: asyncio.Event | None = None,
    metrics: WebhookMetrics | None = None,
    on_ready: Callable[[int], None] | None = None,
) -> None:
    """Deliver until ``stop`` is set (or the task is cancelled)."""
    settings.require("bootstrap_servers")
    assert settings.bootstrap_servers is not None
    subs = tuple(subscriptions if subscriptions is not None else subscriptions_of(settings))
    topics = settings.topics
    security = settings.kafka_security()
    metrics = metrics or WebhookMetrics()
    if settings.inbox_public_url is None:
        log.warning("INTERMISSION_INBOX_PUBLIC_URL is not set: webhooks carry no answer URLs")
    # Created if missing, on one partition; create it beforehand for more (or for replication).
    await ensure_topics(settings.bootstrap_servers, [settings.webhook_dead_letter_topic], 1, 1, security)
    sources: list[KafkaSubscription] = []
    async with contextlib.AsyncExitStack() as stack:
        client = await stack.enter_async_context(http_client())
        publisher = await stack.enter_async_context(
            KafkaPublisher(settings.bootstrap_servers, security=security)
        )
        sender = Sender(client, timeout_seconds=settings.webhooks_timeout_seconds)
        lanes: list[Lane] = []
        for sub in subs:
            lane = Lane(
                sub,
                approvals_topic=topics.approvals,
                sender=sender,
                policy=retry_policy(settings),
                publisher=publisher,
                dead_letter_topic=settings.webhook_dead_letter_topic,
                metrics=metrics,
                inbox_url=settings.inbox_public_url,
                max_pending=settings.webhooks_max_pending,
            )
            source = KafkaSubscription(
                settings.bootstrap_servers,
                [topics.approvals, *([topics.results] if sub.outcomes else [])],
                f"{settings.webhooks_group_id}.{sub.id}",
                security=security,
                client_id="intermission-webhooks",
                # A new subscription starts at the end: it is for pauses from now on, not for
                # every pause the topic still holds. Once committed, the group resumes there.
                consumer_options={"auto_offset_reset": "latest", **(consumer_options or {})},
            )

            async def revoked(partitions: frozenset[tuple[str, int]], lane: Lane = lane) -> None:
                lane.forget(partitions)

            source.on_revoked(revoked)
            await stack.enter_async_context(source)
            sources.append(source)
            lanes.append(lane)
        endpoints = _endpoints(sources, metrics)
        if settings.health_port:
            port = await endpoints.start(settings.health_host, settings.health_port)
            stack.push_async_callback(endpoints.close)
            log.info("webhooks: /healthz, /readyz and /metrics on port %d", port)
        log.info("webhooks: delivering to %d subscription(s)", len(lanes))
        runs = [asyncio.create_task(lane.run(source)) for lane, source in zip(lanes, sources, strict=True)]
        if on_ready is not None:
            on_ready(len(lanes))
        try:
            waiting = [*runs, *([asyncio.create_task(stop.wait())] if stop is not None else [])]
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task in runs and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for source in sources:
                await source.close()  # ends each lane's records()
            for task in waiting:
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)


def _endpoints(sources: Sequence[KafkaSubscription], metrics: WebhookMetrics) -> Endpoints:
    async def ready() -> ReadinessReport:
        joined = all(source.joined() for source in sources)
        detail = msgspec.json.encode({"ready": joined, "lanes": len(sources), "joined": joined})
        return ReadinessReport(ready=joined, detail=msgspec.Raw(detail))

    async def exposition() -> bytes:
        return metrics.exposition()

    from prometheus_client import CONTENT_TYPE_LATEST

    return Endpoints(readiness=ready, metrics=exposition, metrics_content_type=CONTENT_TYPE_LATEST)
