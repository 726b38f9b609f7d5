"""Faults on a 3-broker Kafka cluster with many runs in flight, measured.

Usage: ``uv run python bench/cluster_faults.py [--runs 80] [--rounds 1] [--fault NAME ...]``.
The CI-sized version is tests/faults/test_cluster.py (20 runs a fault); this is the same code
(tests/faults/cluster_faults.py, faultkit.flow_through) with more runs and rounds.

Starts its own 3-broker KRaft cluster (replication 3, min.insync.replicas 2) and SeaweedFS on
loopback, then for each fault: heals the cluster, creates a lane (topics, group, bucket prefix),
starts a worker process, submits runs (a quarter before the fault, the rest spread over it),
approves each pause as it is raised, and counts lost, failed and repeated effects. Prints the
time from the fault to the first outcome and to the last, and from the cluster being whole
again. Exits 1 if any fault lost or repeated anything.
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

# bench/ is a folder of scripts; tests/ holds realservices and the fault kit.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "faults"))

from cluster_faults import FAULTS, heal
from faultkit import Lane, Recovery, flow_through
from intermission.service.local_services import KafkaService, S3Service
from realservices.kafka import start_local_kafka_cluster
from realservices.plugin import S3Bucket
from realservices.s3 import start_s3, unique_bucket_name

_SPACING_S = 0.2  # between the runs submitted before the fault


async def one(kafka: KafkaService, s3: S3Service, fault: str, runs: int, work: Path) -> Recovery | str:
    chosen = FAULTS[fault]
    await asyncio.to_thread(heal, kafka.cluster)
    bucket = unique_bucket_name(f"cluster-{fault.replace('_', '-')}")
    await asyncio.to_thread(s3.client().create_bucket, Bucket=bucket)
    lane = Lane(
        kafka.bootstrap_servers,
        S3Bucket(s3.endpoint_url, s3.access_key, s3.secret_key, s3.region, bucket),
        work,
    )

    async def outage() -> float:
        return await chosen.inflict(kafka.cluster, lane)

    try:
        return await flow_through(
            lane, runs, before=max(1, runs // 4), spacing=_SPACING_S, outage=outage, during=chosen.lasts
        )
    except AssertionError as exc:
        return str(exc).splitlines()[0]


async def measure(args: argparse.Namespace, kafka: KafkaService, s3: S3Service) -> int:
    failures = 0
    rows: list[str] = []
    for round_ in range(1, args.rounds + 1):
        for fault in args.fault or list(FAULTS):
            print(f"\n=== {fault}, round {round_}: {args.runs} runs ===", flush=True)
            with tempfile.TemporaryDirectory(prefix="cluster-faults-") as work:
                outcome = await one(kafka, s3, fault, args.runs, Path(work))
            if isinstance(outcome, str):
                failures += 1
                rows.append(f"| {fault} | {round_} | FAILED: {outcome} | | |")
                continue

            def s(value: float | None) -> str:
                return "-" if value is None else f"{value:.1f} s"

            rows.append(
                f"| {fault} | {round_} | 0 lost, 0 repeated | {s(outcome.first_after_fault)} | "
                f"{s(outcome.all_after_fault)} (+{outcome.all_after_back:.1f} s after whole again) |"
            )
    print(
        f"\n{args.runs} runs a fault, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}"
    )
    print("| fault | round | result | first outcome after the fault | all outcomes after the fault |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=80, help="runs in flight per fault")
    parser.add_argument("--rounds", type=int, default=1, help="times to go through the faults")
    parser.add_argument("--fault", action="append", choices=list(FAULTS), help="only these (repeatable)")
    args = parser.parse_args()
    # The clients log every failed reconnect while a node is down: thousands of lines.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    started = time.monotonic()
    kafka = start_local_kafka_cluster()
    s3 = start_s3()
    print(f"cluster and SeaweedFS up in {time.monotonic() - started:.1f} s", flush=True)
    try:
        code = asyncio.run(measure(args, kafka, s3))
    finally:
        kafka.stop()
        s3.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
