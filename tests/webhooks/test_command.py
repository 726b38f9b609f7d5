"""`intermission webhooks` as a process: it joins a group per subscription, answers /readyz and
/metrics on its health port, delivers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
from events_kit import raised
from intermission.service.wiring.serve import create_topics
from intermission.webhooks import webhook_id
from intermission_producer import KafkaTransport
from intermission_schemas import encode
from real_kit import command_environment, settings_for
from receiver_kit import Receiver, serving

pytestmark = [pytest.mark.kafka]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def test_the_dispatcher_process_delivers_and_stops_on_sigterm(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = settings_for(kafka_bootstrap)
    await create_topics(settings, partitions=1)
    receiver = Receiver()
    port = _free_port()
    async with serving(receiver.app) as served:
        env = {
            **os.environ,
            **command_environment(settings, tmp_path / "hooks.yaml", served.url),
            "INTERMISSION_HEALTH_HOST": "127.0.0.1",
            "INTERMISSION_HEALTH_PORT": str(port),
        }
        log = tmp_path / "webhooks.log"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "intermission.cli", "webhooks", env=env, stdout=out, stderr=out
            )
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                    async with asyncio.timeout(90):
                        while True:
                            try:
                                if (await client.get("/readyz")).status_code == 200:
                                    break
                            except httpx.TransportError:
                                pass
                            await asyncio.sleep(0.2)
                    event = raised("from-the-process")
                    # A new subscription starts at the end of the topic, resolved just after the
                    # join: the event is sent again until it arrives (one id, processed once).
                    async with KafkaTransport(kafka_bootstrap) as transport, asyncio.timeout(60):
                        while webhook_id("tickets", event) not in receiver.processed:
                            await transport.publish(settings.topics.approvals, event.run_id, encode(event))
                            for _ in range(50):
                                if webhook_id("tickets", event) in receiver.processed:
                                    break
                                await asyncio.sleep(0.1)
                    metrics = (await client.get("/metrics")).text
                assert 'intermission_webhook_deliveries_total{subscription="tickets"}' in metrics
                assert receiver.rejected == 0
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(60):
                    code = await process.wait()
        assert code == 0, log.read_text()
