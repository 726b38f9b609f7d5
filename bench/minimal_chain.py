"""Issue 20's baseline: a minimal pause/resume chain written directly on aiokafka + obstore.

Usage: ``uv run python bench/minimal_chain.py [--concurrency 1,64] [--cycles 200] [--warmup 20]
[--workers 2] [--partitions 6] [--pause-bytes 2048]``. A benchmark, not a test: it prints numbers
and never fails on one. Compare it with ``bench/service_cycle.py`` run right after it.

No Intermission code is in the chain; the project is used only to start the services (a real
Kafka broker and SeaweedFS, from ``tests/realservices`` as bench/service_cycle.py starts them)
and to create the bucket. One cycle is 4 records and 3 S3 requests:

  client: publish request ->  worker: PUT pause If-None-Match, publish interrupt
  client: publish resume  ->  worker: GET pause, PUT pause If-Match (claimed), publish completed

Workers: ``--workers`` consumers in one group on the request and resume topics, each with its
own idempotent acks=all producer and S3Store; every record is handled in a task of its own (as
the service overlaps its runs) and its offset committed only once it and every earlier record
of its partition have had their effect. The client is in the same process, on the same loop.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import _timing
import obstore
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from obstore.exceptions import AlreadyExistsError, PreconditionError
from obstore.store import S3Store
from realservices.kafka import fast_consumer_kwargs, start_kafka
from realservices.s3 import s3_client, start_s3, unique_bucket_name

if TYPE_CHECKING:
    from obstore import UpdateVersion

CYCLE_TIMEOUT_S = 30.0
# As the service's consumers: aiokafka's default long-poll wait, the rest as bench/service_cycle.py.
CONSUMER_OPTIONS = {**fast_consumer_kwargs(), "fetch_max_wait_ms": 500}


@dataclass
class Counts:
    """Requests made by the chain (client and workers), read before and after a timed level."""

    s3: int = 0
    records: int = 0
    commits: int = 0


COUNTS = Counts()


def producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=0)


async def send(sender: AIOKafkaProducer, topic: str, run_id: bytes) -> None:
    COUNTS.records += 1
    await sender.send_and_wait(topic, run_id, key=run_id)


def services_cpu_s() -> float:
    """CPU seconds so far of this process's children: the broker and weed, when started here."""
    total, me = 0, str(os.getpid())
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            after_name = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        if after_name[1] == me:  # ppid; then utime and stime, in clock ticks
            total += int(after_name[11]) + int(after_name[12])
    return total / os.sysconf("SC_CLK_TCK")


class CountingStore:
    """The worker's three S3 calls on obstore, each counted, so the report can show 3 a cycle."""

    def __init__(self, s3: dict[str, str], bucket: str) -> None:
        self._store = S3Store(
            bucket,
            endpoint=s3["endpoint_url"],
            region=s3["region"],
            access_key_id=s3["access_key"],
            secret_access_key=s3["secret_key"],
            virtual_hosted_style_request=False,
            conditional_put="etag",
            client_options={"allow_http": True, "timeout": timedelta(seconds=30)},
        )

    async def create(self, key: str, data: bytes) -> None:
        COUNTS.s3 += 1
        await obstore.put_async(self._store, key, data, mode="create")  # If-None-Match: *

    async def get(self, key: str) -> tuple[bytes, str]:
        COUNTS.s3 += 1
        got = await obstore.get_async(self._store, key)
        data = await got.bytes_async()
        etag = got.meta["e_tag"]
        assert etag is not None
        return bytes(data), etag

    async def claim(self, key: str, data: bytes, etag: str) -> None:
        COUNTS.s3 += 1
        version: UpdateVersion = {"e_tag": etag}  # If-Match
        await obstore.put_async(self._store, key, data, mode=version)


class Committer:
    """Commits, per partition, the offset after the last record whose effect is done, with every
    earlier one done too: records of a partition finish out of order when handled concurrently."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer
        self.pending: dict[TopicPartition, deque[tuple[int, asyncio.Task[None]]]] = {}
        self.wake = asyncio.Event()

    def track(self, tp: TopicPartition, offset: int, task: asyncio.Task[None]) -> None:
        self.pending.setdefault(tp, deque()).append((offset, task))
        task.add_done_callback(lambda _: self.wake.set())

    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            offsets: dict[TopicPartition, int] = {}
            for tp, queue in self.pending.items():
                while queue and queue[0][1].done():
                    offset, task = queue.popleft()
                    task.result()  # a failed effect stops the worker rather than being committed
                    offsets[tp] = offset + 1
            if offsets:
                COUNTS.commits += 1
                await self.consumer.commit(offsets)


class Worker:
    def __init__(self, bootstrap: str, topics: dict[str, str], group: str, store: CountingStore) -> None:
        self.topics = topics
        self.store = store
        self.pause_body = b""
        self.producer = producer(bootstrap)
        self.consumer = AIOKafkaConsumer(
            topics["request"],
            topics["resume"],
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            **CONSUMER_OPTIONS,
        )
        self.committer = Committer(self.consumer)
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        self.tasks = [asyncio.create_task(self.consume()), asyncio.create_task(self.committer.run())]

    async def consume(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    self.committer.track(tp, record.offset, asyncio.create_task(self.handle(record)))

    async def handle(self, record: Any) -> None:
        run_id: bytes = record.key
        key = f"pauses/{run_id.decode()}"
        if record.topic == self.topics["request"]:
            await self.store.create(key, self.pause_body)
            await send(self.producer, self.topics["interrupt"], run_id)
        else:
            _, etag = await self.store.get(key)
            await self.store.claim(key, b"claimed:" + self.pause_body, etag)
            await send(self.producer, self.topics["completed"], run_id)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.consumer.stop()
        await self.producer.stop()


class Client:
    """Publishes requests and resumes; one consumer assigned every partition of the interrupt
    and completed topics hands each record to the cycle waiting for it."""

    def __init__(self, bootstrap: str, topics: dict[str, str], partitions: int) -> None:
        self.topics = topics
        self.producer = producer(bootstrap)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, **CONSUMER_OPTIONS
        )
        self.consumer.assign(
            [TopicPartition(topics[t], p) for t in ("interrupt", "completed") for p in range(partitions)]
        )
        self.waiting: dict[tuple[str, bytes], asyncio.Future[None]] = {}
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.producer.start()
        await self.consumer.start()
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                for record in records:
                    future = self.waiting.pop((record.topic, record.key), None)
                    if future is not None and not future.done():
                        future.set_result(None)

    async def step(self, topic: str, awaited: str, run_id: bytes) -> None:
        arrived = asyncio.get_running_loop().create_future()
        self.waiting[(self.topics[awaited], run_id)] = arrived
        await send(self.producer, self.topics[topic], run_id)
        await arrived

    async def cycle(self) -> float:
        run_id = uuid.uuid4().hex.encode()
        start = time.perf_counter()
        async with asyncio.timeout(CYCLE_TIMEOUT_S):
            await self.step("request", "interrupt", run_id)
            await self.step("resume", "completed", run_id)
        return time.perf_counter() - start

    async def stop(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        await self.consumer.stop()
        await self.producer.stop()


async def check_conditions(store: CountingStore) -> str:
    """The two conditions are really sent and honoured: a second create and a claim with a stale
    etag are both refused. (Before timing; its requests are not counted in any cycle.)"""
    key = f"conditions/{uuid.uuid4().hex}"
    await store.create(key, b"first")
    _, stale = await store.get(key)
    await store.claim(key, b"second", stale)
    refused: list[str] = []
    try:
        await store.create(key, b"again")
    except AlreadyExistsError:
        refused.append("create of an existing key")
    try:
        await store.claim(key, b"third", stale)
    except PreconditionError:
        refused.append("If-Match with a stale etag")
    return " and ".join(refused) or "nothing"


async def run_cycles(client: Client, concurrency: int, cycles: int) -> tuple[list[float], float]:
    """`cycles` cycles, `concurrency` at a time; (each cycle's seconds, wall seconds)."""
    samples: list[float] = []
    remaining = iter(range(cycles))

    async def lane() -> None:
        for _ in remaining:
            samples.append(await client.cycle())

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return samples, time.perf_counter() - start


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


async def wait_assigned(workers: list[Worker], expected: set[tuple[str, int]]) -> None:
    """Until the group has settled: each partition owned by exactly one worker."""
    async with asyncio.timeout(60):
        while True:
            owned = [(tp.topic, tp.partition) for w in workers for tp in w.consumer.assignment()]
            if len(owned) == len(expected) and set(owned) == expected:
                return
            await asyncio.sleep(0.1)


async def bench(args: argparse.Namespace, bootstrap: str, s3: dict[str, str]) -> None:
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    prefix = f"minchain-{uuid.uuid4().hex[:8]}-"
    topics = {name: f"{prefix}{name}" for name in ("request", "interrupt", "resume", "completed")}
    await create_topics(bootstrap, list(topics.values()), args.partitions)
    bucket = unique_bucket_name("minchain")
    # Setup only, outside the chain: obstore cannot create buckets.
    s3_client(s3["endpoint_url"], s3["access_key"], s3["secret_key"], s3["region"]).create_bucket(
        Bucket=bucket
    )

    group = f"minchain-workers-{uuid.uuid4().hex[:8]}"
    stores = [CountingStore(s3, bucket) for _ in range(args.workers)]
    workers = [Worker(bootstrap, topics, group, store) for store in stores]
    for worker in workers:
        worker.pause_body = b"p" * args.pause_bytes
    client = Client(bootstrap, topics, args.partitions)

    try:
        await asyncio.gather(*(w.start() for w in workers))
        await wait_assigned(
            workers, {(topics[t], p) for t in ("request", "resume") for p in range(args.partitions)}
        )
        await client.start()
        refused = await check_conditions(stores[0])
        await run_cycles(client, 1, args.warmup)
        await run_cycles(client, max(concurrencies), max(concurrencies))

        print(
            f"minimal chain ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): python "
            f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus; kafka at "
            f"{bootstrap}; s3 at {s3['endpoint_url']}; load average {os.getloadavg()[0]:.2f}"
        )
        print(
            f"  aiokafka + obstore, no Intermission code; {args.workers} workers in this process, one "
            f"group, {args.partitions} partitions, replication 1; producers acks=all, idempotent, "
            f"linger_ms=0; consumers fetch_max_wait_ms={CONSUMER_OPTIONS['fetch_max_wait_ms']}, "
            f"manual commit after the effect; pause object {args.pause_bytes} B"
        )
        print(f"  conditional writes checked before timing: the store refused {refused}")
        print(
            "  cycle: request -> PUT If-None-Match -> interrupt; resume -> GET -> PUT If-Match -> completed"
        )
        print(
            "  cpu/cyc: this process's CPU ms per cycle (client + workers, all threads: "
            "time.process_time); svc cpu: of the broker and weed started here; s3, records, commits: "
            "requests the chain made, per cycle"
        )
        print(
            f"  {'conc':>4} {'cycles':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'cycles/s':>9} "
            f"{'cpu/cyc':>8} {'svc cpu':>8} {'s3':>5} {'records':>7} {'commits':>7}"
        )
        for concurrency in concurrencies:
            cycles = max(args.cycles, 10 * concurrency)
            await run_cycles(client, concurrency, max(args.warmup, concurrency))
            before = dataclasses.replace(COUNTS)
            cpu_before, services_before = time.process_time(), services_cpu_s()
            samples, wall = await run_cycles(client, concurrency, cycles)
            cpu_ms = (time.process_time() - cpu_before) * 1000 / cycles
            services_ms = (services_cpu_s() - services_before) * 1000 / cycles
            s3, records, commits = (
                (getattr(COUNTS, name) - getattr(before, name)) / cycles
                for name in ("s3", "records", "commits")
            )
            summary = _timing.summarize(samples)
            print(
                f"  {concurrency:>4} {cycles:>6} {summary.p50_ms:>8.2f} {summary.p95_ms:>8.2f} "
                f"{summary.max_ms:>8.2f} {cycles / wall:>9.1f} {cpu_ms:>8.2f} {services_ms:>8.2f} "
                f"{s3:>5.2f} {records:>7.2f} {commits:>7.2f}"
            )
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        await asyncio.sleep(0.5)  # the last commits
    finally:
        await client.stop()
        await asyncio.gather(*(w.stop() for w in workers), return_exceptions=True)


def start_services() -> tuple[str, dict[str, str], list[Callable[[], None]]]:
    """As bench/service_cycle.py: a broker and SeaweedFS started here, from the main thread."""
    kafka = start_kafka()
    stops: list[Callable[[], None]] = [kafka.stop]
    try:
        s3 = start_s3()
    except BaseException:
        kafka.stop()
        raise
    stops.append(s3.stop)
    options = {
        "endpoint_url": s3.endpoint_url,
        "region": s3.region,
        "access_key": s3.access_key,
        "secret_key": s3.secret_key,
    }
    return kafka.bootstrap_servers, options, stops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument(
        "--cycles", type=int, default=200, help="timed cycles per level (at least 10 per lane)"
    )
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="as bench/service_cycle.py's default")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--pause-bytes", type=int, default=2048)
    args = parser.parse_args()
    bootstrap, s3, stops = start_services()
    try:
        asyncio.run(bench(args, bootstrap, s3))
    finally:
        while stops:
            stops.pop()()


if __name__ == "__main__":
    main()
