"""SeaweedFS or the broker goes away while requests and answers flow, and comes back on the same
data: no dead letters, no answer lost, every run completes. Each test prints its time to
recover.

Each test takes down a service of its own (the outage_* fixtures), never the shared ones.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from faultkit import Lane, flow_through
from realservices import KafkaService, S3Service
from realservices.plugin import S3Bucket


@pytest.mark.kafka
@pytest.mark.s3
async def test_seaweedfs_down_30s_loses_nothing(
    kafka_service: KafkaService, outage_s3: S3Service, outage_s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(kafka_service.bootstrap_servers, outage_s3_bucket, tmp_path)

    async def outage() -> float:
        outage_s3.stop_for_outage()
        print("SeaweedFS down")
        await asyncio.sleep(30)
        took = await asyncio.to_thread(outage_s3.restart)
        print(f"SeaweedFS back after {30 + took:.1f} s (restart {took:.1f} s)")
        return time.monotonic()

    await flow_through(lane, 16, before=8, spacing=0.4, outage=outage)


@pytest.mark.kafka
@pytest.mark.s3
async def test_broker_down_75s_loses_nothing(
    outage_kafka: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(outage_kafka.bootstrap_servers, s3_bucket, tmp_path)

    async def outage() -> float:
        await asyncio.to_thread(outage_kafka.stop_for_outage)
        print("broker down")
        await asyncio.sleep(75)
        took = await asyncio.to_thread(outage_kafka.restart)
        print(f"broker back after {75 + took:.1f} s (restart {took:.1f} s)")
        return time.monotonic()

    await flow_through(lane, 6, before=3, spacing=0.5, outage=outage)


@pytest.mark.kafka
@pytest.mark.s3
async def test_broker_sigkilled_and_restarted_loses_nothing(
    outage_kafka: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(outage_kafka.bootstrap_servers, s3_bucket, tmp_path)

    async def outage() -> float:
        outage_kafka.kill()
        print("broker SIGKILLed")
        took = await asyncio.to_thread(outage_kafka.restart)
        print(f"broker back after {took:.1f} s")
        return time.monotonic()

    await flow_through(lane, 12, before=6, spacing=0.3, outage=outage)
