"""Long outages with many runs in flight: S3 down, then the broker down, measured.

Usage: ``uv run python bench/long_outages.py [--runs 200] [--outage-seconds 600]``.
Issue 21's soak: SeaweedFS down for 10 minutes, then the broker down for 10 minutes, with 200
runs in flight. The CI-sized versions are tests/faults/test_outages.py (a 30 s S3 outage, a 75 s
broker outage, a SIGKILLed broker) on the same code (faultkit.flow_through).

Starts its own broker and SeaweedFS on loopback, a worker process, submits runs (a quarter
before the outages, the rest spread over the S3 outage), approves each pause as it is raised, and counts
lost, failed and repeated effects. Samples the worker's resident memory every few seconds while
it holds records it cannot finish. Exits 1 if anything was lost or repeated, or if the runs did
not all settle within ``--settle-seconds`` (default 120) of the broker being back.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

# bench/ is a folder of scripts; tests/ holds realservices and the fault kit.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "faults"))

import faultkit
from faultkit import Lane, Recovery, flow_through
from intermission.service.local_services import KafkaService, S3Service
from realservices.kafka import start_local_kafka
from realservices.plugin import S3Bucket
from realservices.s3 import start_s3, unique_bucket_name

_SPACING_S = 0.2  # between the runs submitted before the outages
_SAMPLE_EVERY_S = 5.0


class WorkerMemory:
    """Peak resident memory of this process's worker children, sampled while the bench runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, str, int]] = []  # (time, phase, bytes)
        self.phase = "before"

    async def follow(self) -> None:
        me = psutil.Process()
        while True:
            rss = 0
            for child in me.children(recursive=True):
                try:
                    if any("worker" in part for part in child.cmdline()):
                        rss += child.memory_info().rss
                except psutil.Error:
                    continue
            if rss:
                self.samples.append((time.monotonic(), self.phase, rss))
            await asyncio.sleep(_SAMPLE_EVERY_S)

    def peak(self, phase: str) -> float:
        """MiB; 0 if no sample."""
        return max((rss for _, p, rss in self.samples if p == phase), default=0) / 2**20


async def measure(args: argparse.Namespace, kafka: KafkaService, s3: S3Service, work: Path) -> int:
    bucket = unique_bucket_name("long-outages")
    await asyncio.to_thread(s3.client().create_bucket, Bucket=bucket)
    lane = Lane(
        kafka.bootstrap_servers,
        S3Bucket(s3.endpoint_url, s3.access_key, s3.secret_key, s3.region, bucket),
        work,
    )
    memory = WorkerMemory()
    sampler = asyncio.create_task(memory.follow())
    down = args.outage_seconds

    async def outages() -> float:
        memory.phase = "s3 down"
        s3.stop_for_outage()
        print(f"SeaweedFS down for {down:.0f} s", flush=True)
        await asyncio.sleep(down)
        took = await asyncio.to_thread(s3.restart)
        print(f"SeaweedFS back (restart {took:.1f} s)", flush=True)
        memory.phase = "broker down"
        await asyncio.to_thread(kafka.stop_for_outage)
        print(f"broker down for {down:.0f} s", flush=True)
        await asyncio.sleep(down)
        took = await asyncio.to_thread(kafka.restart)
        print(f"broker back (restart {took:.1f} s)", flush=True)
        memory.phase = "after"
        return time.monotonic()

    # flow_through waits this long for the runs to settle once the service is back.
    faultkit.RECOVERY_S = args.settle_seconds
    # Its client keeps retrying publishes through the broker outage, as an upstream service would.
    faultkit.PUBLISH_WITHIN_S = down + args.settle_seconds
    failure = ""
    recovery: Recovery | None = None
    try:
        recovery = await flow_through(
            lane,
            args.runs,
            before=max(1, args.runs // 4),
            spacing=_SPACING_S,
            outage=outages,
            # The rest arrive during the S3 outage: all are in flight when the broker goes down,
            # and "settled after it was back" times recovery, not late submissions.
            during=down,
        )
    except AssertionError as exc:
        failure = str(exc).splitlines()[0] if str(exc) else "assertion failed"
    finally:
        sampler.cancel()
    print(
        f"\n{args.runs} runs, S3 then the broker down {down:.0f} s each, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    print(
        "| result | first outcome after the broker was back | all settled after it was back |"
        " worker RSS peak: before / S3 down / broker down / after |"
    )
    print("|---|---|---|---|")
    mem = " / ".join(f"{memory.peak(p):.0f} MiB" for p in ("before", "s3 down", "broker down", "after"))
    if recovery is None:
        print(f"| FAILED: {failure} | | | {mem} |")
        return 1
    first = "-" if recovery.first_after_back is None else f"{recovery.first_after_back:.1f} s"
    print(f"| 0 lost, 0 repeated | {first} | {recovery.all_after_back:.1f} s | {mem} |")
    if recovery.all_after_back > args.settle_seconds:
        print(f"not settled within {args.settle_seconds:.0f} s of the end of the outage")
        return 1
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="runs in flight")
    parser.add_argument("--outage-seconds", type=float, default=600.0, help="each outage's length")
    parser.add_argument("--settle-seconds", type=float, default=120.0, help="allowed after the outage")
    args = parser.parse_args()
    # The clients log every failed reconnect while a service is down: thousands of lines.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    kafka = start_local_kafka()
    s3 = start_s3()
    try:
        with tempfile.TemporaryDirectory(prefix="long-outages-") as work:
            code = asyncio.run(measure(args, kafka, s3, Path(work)))
    finally:
        kafka.stop()
        s3.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
