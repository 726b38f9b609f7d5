"""Two workers whose clocks disagree by a minute: one 30 s ahead, one 30 s behind (libfaketime).

Answers race (an approval and a rejection sent at once for every pause) while the worker holding
a claim is SIGKILLed at its tool's effect and after snapshot writes, so the other worker must
take the claim over once the lease has lapsed. A lease is measured on the successor's own
elapsed time (ClaimWatch), never by comparing the dead owner's ``lease_until`` with the
successor's wall clock; with that comparison, the worker 30 s behind saw a dead worker's
6 s lease as live for 66 s and gave up on the pause.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from faultkit import Lane, Supervisor, takeover_consumer_options
from realservices import KafkaService
from realservices.plugin import S3Bucket
from skewed_clock import skewed_clock_env
from slowflow import serve_through

pytestmark = [pytest.mark.kafka, pytest.mark.s3]

# Every run reaches its outcome within this from its submit, a takeover included: a lease, a
# rebalance and two kills (under 30 s here) with room for busy CI machines. Comparing the dead
# owner's lease_until with the successor's clock instead makes the worker 30 s behind wait
# 30 + 30 + 6 = 66 s for the claims of the one ahead.
RUN_TO_OUTCOME_S = 60.0


def test_the_skew_is_applied() -> None:
    """The worker processes' clocks are off as asked, while their monotonic clocks are not."""
    probe = "import time; print(time.time(), time.monotonic())"
    for offset in (+30, -30):
        before_wall, before_mono = time.time(), time.monotonic()
        out = subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, **skewed_clock_env(offset)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        wall, mono = float(out[0]), float(out[1])
        assert abs(wall - before_wall - offset) < 5, (offset, wall - before_wall)
        assert abs(mono - before_mono) < 5, (offset, mono - before_mono)


async def test_workers_30s_apart_race_answers_and_lose_lease_holders(
    kafka_service: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    lane = Lane(kafka_service.bootstrap_servers, s3_bucket, tmp_path)
    options = takeover_consumer_options(kafka_service)
    # The worker ahead is killed while it holds claims (at its second tool effect) and stays
    # away for good (past the 66 s a wall-clock compare would wait), so the worker behind must
    # take its claims over; the worker behind is killed too (at its 20th snapshot write) and
    # comes back at once.
    ahead = Supervisor(
        lane,
        1,
        restart_after_kill_s=RUN_TO_OUTCOME_S * 2,
        kill=["after_tool_effect:2"],
        consumer_options=options,
        env=skewed_clock_env(+30),
    )
    behind = Supervisor(
        lane, 1, kill=["after_snapshot_write:20"], consumer_options=options, env=skewed_clock_env(-30)
    )
    served = await serve_through(
        lane, "clocks +30 s and -30 s, lease holders killed", 12, workers=[ahead, behind], race=True
    )
    kills = (lane.state / "kills.jsonl").read_text().splitlines()
    print(f"{len(kills)} lease holders killed: {kills}")
    assert len(kills) == 2, kills
    assert served.slowest_run_s < RUN_TO_OUTCOME_S, served
