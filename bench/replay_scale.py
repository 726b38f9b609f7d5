"""Replay at scale: 10,000 stored runs replayed on a real SeaweedFS, measured.

Usage: ``uv run python bench/replay_scale.py [--runs 10000] [--concurrency 16] [--batch 500]``.
A benchmark, not a test: it prints what it measured and never fails on a number (the CI-sized
check is tests/replay/test_replay_batches.py).

1. Records ``--runs`` runs of the seed's samples (tests/replay/seed_app.py: askQuestion answered,
   transferMoney approved, denied, or approved with a new amount) through the production worker
   on an in-process log and the production store adapter (obstore) on SeaweedFS.
2. Replays them all against the unchanged app with `intermission.replay.Replay`, counting S3
   requests (tests/storecount.CountingStore on the source and on the target) and sampling the
   process's resident memory every 1,000 runs, so a growth with the number of runs shows.
3. Runs the same replay again: every run is skipped (its report is stored), which is what
   resuming an interrupted replay costs for the runs already done.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "replay"))

import seed_app
from intermission.replay import Replay, ReplayReport
from intermission.service import Sealer
from intermission.service.adapters.local import MemoryLog
from intermission.service.adapters.obstore import ObstoreSnapshotStore
from intermission.service.wiring.compose import build_worker
from intermission.service.wiring.settings import Settings
from intermission_producer import IntermissionClient
from intermission_schemas import (
    GenerateRequest,
    InterruptRaised,
    Message,
    TextPart,
    decode_approval,
)
from realservices.s3 import start_s3, unique_bucket_name
from storecount import CountingStore

SEALER = Sealer(None)
RECORD_BATCH = 1000  # runs per in-memory log while recording, so recording memory stays flat too


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


class Progress:
    """Counts replayed runs and samples resident memory every 1,000 of them."""

    def __init__(self) -> None:
        self.count = 0
        self.different = 0
        self.samples: list[tuple[int, float]] = [(0, rss_mb())]

    def advance(self, report: ReplayReport | None) -> None:
        self.count += 1
        if report is not None and not report.same:
            self.different += 1
        if self.count % 1000 == 0:
            self.samples.append((self.count, rss_mb()))


async def record_batch(store: Any, numbers: range, concurrency: int) -> None:
    """Runs ``numbers`` through the production worker on one log, answered as in seed_app."""
    settings = Settings()
    topics = settings.topics
    log = MemoryLog()
    worker = build_worker(settings, store=store, publisher=log, ai=seed_app.ai)
    subscription = log.subscribe([topics.requests, topics.resumes], "record")
    task = asyncio.create_task(worker.run(subscription))
    waiting: dict[bytes, asyncio.Queue[tuple[str, bytes]]] = {}

    async def route() -> None:
        async with log.read([topics.approvals, topics.results], start="beginning") as records:
            async for record in records:
                queue = waiting.get(record.key or b"")
                if queue is not None and record.value is not None:
                    queue.put_nowait((record.topic, record.value))

    router = asyncio.create_task(route())
    todo = iter(numbers)
    async with IntermissionClient(transport=log, topics=topics) as client:

        async def one(n: int) -> None:
            run_id = f"seed-{n}"
            events: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
            waiting[run_id.encode()] = events
            text = f"{'question' if seed_app.kind(n) == 'question' else 'transfer'} order {n}"
            await client.submit(
                GenerateRequest(
                    run_id=run_id,
                    idempotency_key=run_id,
                    messages=[Message(role="user", content=[TextPart(text)])],
                    tools=["askQuestion", "transferMoney"],
                )
            )
            topic, value = await events.get()
            raised = decode_approval(value)
            assert topic == topics.approvals, topic
            assert isinstance(raised, InterruptRaised), raised
            ref = raised.interrupts[0].ref
            match seed_app.kind(n):
                case "question":
                    await client.respond(raised, {ref: f"film {n}"}, answered_by="alice")
                case "approve":
                    await client.restart(raised, {ref: {"status": "APPROVED"}}, answered_by="bob")
                case "deny":
                    await client.restart(raised, {ref: {"status": "REJECTED"}}, answered_by="bob")
                case _:
                    await client.restart(
                        raised,
                        {ref: True},
                        replace_input={ref: {"toAccountId": f"ACC{n}", "amount": 50}},
                        answered_by="carol",
                    )
            while (await events.get())[0] != topics.results:
                pass
            del waiting[run_id.encode()]

        async def pool() -> None:
            for n in todo:
                await one(n)

        await asyncio.gather(*(pool() for _ in range(concurrency)))
    router.cancel()
    await subscription.close()
    await task
    await asyncio.gather(router, return_exceptions=True)


async def measure(args: argparse.Namespace, s3: Any) -> None:
    bucket = unique_bucket_name("replay-scale")
    s3.client().create_bucket(Bucket=bucket)
    options = {
        "endpoint_url": s3.endpoint_url,
        "region": s3.region,
        "access_key": s3.access_key,
        "secret_key": s3.secret_key,
    }
    source = ObstoreSnapshotStore(bucket, "live/", **options)
    print(
        f"replay at scale: python {platform.python_version()}, {os.cpu_count()} cpus shared with other "
        f"processes, load average {load_average()}; SeaweedFS at {s3.endpoint_url} through obstore; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    started = time.perf_counter()
    for first in range(0, args.runs, RECORD_BATCH):
        await record_batch(source, range(first, min(first + RECORD_BATCH, args.runs)), args.concurrency)
    recorded_s = time.perf_counter() - started
    print(
        f"1. recorded {args.runs:,} runs in {recorded_s:.1f} s ({args.runs / recorded_s:,.1f} runs/s); "
        f"rss {rss_mb():.0f} MB, peak {peak_mb():.0f} MB"
    )

    # Counts only: a log of every request's key would itself grow with the runs (~4 KB each).
    counted_source = CountingStore(source, keep_requests=False)
    counted_target = CountingStore(ObstoreSnapshotStore(bucket, "replays/", **options), keep_requests=False)
    ids = [f"seed-{n}" for n in range(args.runs)]

    def replay() -> Replay:
        return Replay(
            source=counted_source,
            sealer=SEALER,
            ai=seed_app.ai,
            target=counted_target,
            label="scale",
            concurrency=args.concurrency,
            batch=args.batch,
        )

    progress = Progress()
    started = time.perf_counter()
    summary = await replay().run(ids, on_progress=progress.advance, keep_same=False)
    replay_s = time.perf_counter() - started
    reads, writes = counted_source.calls, counted_target.calls
    replayed = summary.replayed
    print(
        f"2. replayed {replayed:,} runs in {replay_s:.1f} s: {replayed / replay_s:,.1f} "
        f"runs/s, {progress.different} different (concurrency {args.concurrency}, batch {args.batch})"
    )
    print(
        f"   S3 requests per run: source {counted_source.total() / args.runs:.2f} "
        f"({dict(sorted(reads.items()))}), target {counted_target.total() / args.runs:.2f} "
        f"({dict(sorted(writes.items()))})"
    )
    print(
        "   resident memory by runs replayed: "
        + ", ".join(f"{count:,}: {mb:.0f} MB" for count, mb in progress.samples)
        + f"; process peak {peak_mb():.0f} MB"
    )
    before = counted_source.total() + counted_target.total()
    started = time.perf_counter()
    again = await replay().run(ids)
    again_s = time.perf_counter() - started
    after = counted_source.total() + counted_target.total()
    print(
        f"3. the same replay again: {len(again.skipped):,} skipped, {len(again.reports)} replayed, "
        f"in {again_s:.2f} s with {after - before} S3 requests"
    )
    print(f"load average at the end: {load_average()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000, help="runs to record and replay")
    parser.add_argument("--concurrency", type=int, default=16, help="runs recorded and replayed at a time")
    parser.add_argument("--batch", type=int, default=500, help="runs per replay batch (Replay(batch=...))")
    args = parser.parse_args()
    s3 = start_s3()
    try:
        asyncio.run(measure(args, s3))
    finally:
        s3.stop()


if __name__ == "__main__":
    main()
