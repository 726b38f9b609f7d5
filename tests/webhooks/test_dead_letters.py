"""A receiver that refuses a webhook for what it is (a 4xx) gets it dead-lettered at once, on
real Kafka, with the subscription and the last error; `intermission dlq webhooks list` shows it
and `intermission dlq webhooks redrive` delivers it again, under the same webhook id, once the
receiver takes it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from events_kit import raised, subscription
from intermission.service.wiring.serve import create_topics
from intermission.webhooks import WebhookMetrics, webhook_id
from intermission_producer import KafkaTransport
from intermission_schemas import encode
from real_kit import Deployment, command_environment, dispatcher, settings_for
from realservices.kafka import fast_consumer_kwargs
from receiver_kit import Receiver, serving

pytestmark = [pytest.mark.kafka]


async def _cli(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "intermission.cli",
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(120):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_a_refused_webhook_is_dead_lettered_and_redriven(kafka_bootstrap: str, tmp_path: Path) -> None:
    settings = settings_for(kafka_bootstrap)
    await create_topics(settings, partitions=1)
    event = raised("refused-run")
    metrics = WebhookMetrics()
    receiver = Receiver()
    receiver.status = 422
    async with (
        serving(receiver.app) as served,
        KafkaTransport(kafka_bootstrap, consumer_options=fast_consumer_kwargs()) as transport,
    ):
        found = Deployment(settings, "https://inbox.example.com", transport)
        async with dispatcher(found, [subscription(served.url, id="tickets")], metrics):
            await transport.publish(settings.topics.approvals, event.run_id, encode(event))
            async with asyncio.timeout(60):
                while not metrics.registry.get_sample_value(  # noqa: ASYNC110
                    "intermission_webhook_dead_letters_total", {"subscription": "tickets"}
                ):
                    await asyncio.sleep(0.1)
        assert (
            metrics.registry.get_sample_value(
                "intermission_webhook_failures_total", {"subscription": "tickets", "kind": "permanent"}
            )
            == 1
        )  # no retry of a 4xx
        assert receiver.processed == {}

        env = {
            **command_environment(settings, tmp_path / "hooks.yaml", served.url),
            "INTERMISSION_INBOX_PUBLIC_URL": "https://inbox.example.com",
        }
        code, out = await _cli("dlq", "webhooks", "list", "--jsonl", env=env)
        assert code == 0, out
        [letter] = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert letter["subscription"] == "tickets"
        assert letter["runId"] == "refused-run"
        assert letter["webhookId"] == webhook_id("tickets", event)
        assert letter["lastError"].startswith("HTTP 422")

        code, out = await _cli("dlq", "webhooks", "redrive", "--all", env=env)  # still refused
        assert code == 1, out
        assert "failed: HTTP 422" in out

        receiver.status = 204
        code, out = await _cli("dlq", "webhooks", "redrive", letter["id"], env=env)
        assert code == 0, out
        assert "1 delivered, 0 failed" in out
    [(msg_id, payload)] = receiver.processed.items()
    assert msg_id == letter["webhookId"]
    assert payload["data"]["interrupts"][0]["answerUrl"] == "https://inbox.example.com/api/answer/tok.en-1"
