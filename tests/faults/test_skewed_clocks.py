"""Two workers whose clocks disagree by a minute: one 30 s ahead, one 30 s behind (libfaketime).

Answers race (an approval and a rejection sent at once for every pause) while the worker holding
a claim is SIGKILLed at its tool's effect and after snapshot writes, so the other worker must
take the claim over once the lease has lapsed. A lease is measured on the successor's own
elapsed time (ClaimWatch), never by comparing the dead owner's ``lease_until`` with the
successor's wall clock; with that comparison, the worker 30 s behind saw a dead worker's
6 s lease as live for 66 s and gave up on the pause.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from faultkit import Lane, Supervisor, takeover_consumer_options
from realservices import KafkaService
from realservices.plugin import S3Bucket
from skewed_clock import skewed_clock_env
from slowflow import serve_through

pytestmark = [pytest.mark.kafka, pytest.mark.s3]

# Lease holders killed at these occurrences, counted across both workers.
KILLS = ["after_tool_effect:2,6,10", "after_snapshot_write:12,40"]


async def test_workers_30s_apart_race_answers_and_lose_lease_holders(
    kafka_service: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(kafka_service.bootstrap_servers, s3_bucket, tmp_path)
    options = takeover_consumer_options(kafka_service)
    workers = [
        Supervisor(lane, 1, kill=KILLS, consumer_options=options, env=skewed_clock_env(offset))
        for offset in (+30, -30)
    ]
    await serve_through(lane, "clocks +30 s and -30 s, lease holders killed", 12, workers=workers, race=True)
    kills = (lane.state / "kills.jsonl").read_text().splitlines()
    print(f"{len(kills)} lease holders killed")
    assert len(kills) >= 3, kills
