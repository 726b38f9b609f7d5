"""Full service cycles on real Kafka + S3, next to the raw chain of the I/O calls one cycle makes.

Usage: ``uv run python bench/service_cycle.py [--concurrency 1,64] [--cycles 200] [--warmup 20]
[--workers 2] [--partitions 6] [--s3-client obstore|boto3] [--fetch-max-wait-ms 500]
[--floor-samples 200] [--trace] [--linger-ms N] [--snapshot-compression zstd]
[--worker-processes]``. A benchmark, not a test: it prints numbers and never fails on one. Other
processes on the machine move the numbers a lot: the header shows the load average.

Defaults are the worker's own: obstore, and consumers long-polling with aiokafka's 500 ms fetch
wait (the worker sets none). Until Dec 2026 the benchmark polled every 5 ms, which kept five
idle consumers at about 27% of a core in this process and slowed every call of a cycle on a
2-cpu machine; ``--fetch-max-wait-ms 5`` still measures that.

Services: a real Apache Kafka broker and SeaweedFS, started here with ``tests/realservices``
(``start_kafka()``, ``start_s3()``) unless ``KAFKA_BOOTSTRAP_SERVERS`` names a broker or
``INTERMISSION_S3_ENDPOINT_URL`` an S3 endpoint (credentials from ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, region from ``INTERMISSION_S3_REGION``). Topics and the bucket are new
and uniquely named for every run.

Workers: ``--workers`` Worker instances on one consumer group, each with its own
KafkaPublisher, KafkaSubscription, store adapter (``--s3-client``), Runs and registry: the
transferMoney app of tests/service/service_app.py with its scripted zero-latency model. By
default they run in this process, on the client's event loop. With ``--worker-processes`` each
runs in its own OS process (bench/_service_worker.py, built by the same ``start_worker``), as
callers and workers are deployed; they are stopped (leave the group, close) at the end. The
floor then times its S3 ops through a store of the same adapter made here. ``--trace`` needs the
workers in this process and refuses ``--worker-processes``.
The default stays in-process. Two alternating pairs at concurrency 1 (2026-12-01 22:59-23:01
UTC, obstore, ``--concurrency 1 --cycles 200``, load average 1.0-2.0): cycle p50 / raw chain p50
1.07x and 1.06x in-process, 1.08x and 1.10x with worker processes (cycle p50 27.6 and 26.8 ms
against 29.0 and 27.5 ms): separate processes do not make a cycle faster on 2 cpus, and
in-process keeps --trace available. (With the old floor and 5 ms polling, worker processes had
looked better: median 1.58x -> 1.28x, half of it a slower floor.) Use ``--worker-processes`` to
see what sharing the client's loop costs.

A cycle, as a caller and an approver see it: publish GenerateRequest, receive InterruptRaised,
publish ResumeRequested (restart, approved) at once, receive RunCompleted. Timed from the request
publish to the RunCompleted receipt.

The raw chain (``RawChain``), the baseline of latency at concurrency 1: the Kafka and S3 calls of
one cycle, made through the same publisher, consumer settings and store adapter, in the worker's
order and with its overlaps, one after another with nothing in between, and timed end to end.
Chains and cycles alternate, one of each at a time, so both meet the same load; "cycle p50 / raw
chain p50" is the ratio the issue's latency target is about.

The floor table: the same operations (counted from service/runs/, see ``CRITICAL_PATH``), each
timed alone in a loop of its own, on objects the size of a real snapshot and result; "sum of
the isolated ops' p50" adds their p50s. It explains where a cycle's time goes, but it is not a
chain: a sum of medians is less than the median of a sum of skewed latencies, and an op repeated
alone meets none of the other calls of a cycle. ``--trace`` also wraps the workers' store and
publisher in counting proxies and prints the operations really made per cycle, with their
in-cycle latencies.
CPU columns: this process's CPU per op (floor) and per cycle, and the services' (broker, weed)
per cycle. With ``--worker-processes``, this process is the client alone, and the worker
processes' CPU (from /proc/<pid>/stat, told from the services by pid) has its own column.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import gc
import json
import math
import os
import platform
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

# bench/ is a folder of scripts; tests/ holds realservices and the service tests' app.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "service"))

import _timing
import msgspec
import service_app
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from intermission.service import (
    PreconditionFailed,
    Record,
    Sealer,
    StoredObject,
    Topics,
    Worker,
    result_key,
    snapshot_key,
)
from intermission.service.adapters.kafka import KafkaPublisher, KafkaSubscription, ensure_topics
from intermission.service.adapters.s3 import S3SnapshotStore
from intermission.service.runs import Runs
from intermission.service.runs.compression import Compression
from intermission_producer import _producer as kafka_module
from intermission_schemas import (
    GenerateRequest,
    InterruptRaised,
    Message,
    RestartAnswer,
    ResumeRequested,
    RunCompleted,
    TextPart,
    decode_approval,
    decode_request,
    decode_result,
    decode_resume,
    encode,
)
from realservices.kafka import fast_consumer_kwargs, start_kafka
from realservices.s3 import start_s3, unique_bucket_name

# The operations on a cycle's critical path (request publish -> RunCompleted receipt), in
# order, with the service/runs/ code that makes them. Lookups made side by side count once.
# (label, count) refer to the floor ops below.
CRITICAL_PATH: list[tuple[str, int, str]] = [
    ("hop", 2, "request, ResumeRequested: produce -> consume"),
    ("hop", 2, "InterruptRaised, RunCompleted: produce -> consume"),
    (
        "create_snapshot",
        1,
        "Journal.model: create(claim of step 0) holding the reply that asks for tools, after the model call",
    ),
    ("create_snapshot", 1, "Steps._settle: store.create(snapshot v1), If-None-Match"),
    ("get_snapshot", 1, "Claims._try: get(v1)"),
    ("create_claim", 1, "Claims._apply: create(claims/v1), the pause as taken, If-None-Match"),
    ("create_snapshot", 1, "journaled tool: the restarted tool's output, before the next model call"),
    ("create_result", 1, "Steps._finish: store.create(result)"),
]
# Made by the worker after RunCompleted is published: they cost worker time, not cycle latency.
OFF_PATH: list[tuple[str, int, str]] = [
    ("commit", 2, "Worker._finished: one offset commit per consumed record"),
]
FLOOR_LABELS = {
    "hop": "kafka produce->consume hop",
    "hop_beside_marker": "kafka hop beside an s3 create",
    "create_claim": "s3 put If-None-Match claim",
    "get_snapshot": "s3 get",
    "create_snapshot": "s3 put If-None-Match snapshot",
    "create_result": "s3 put If-None-Match result",
    "replace": "s3 put If-Match snapshot",
    "commit": "kafka offset commit",
}
CYCLE_TIMEOUT_S = 30.0
WORKER_ENTRY = str(Path(__file__).resolve().parent / "_service_worker.py")  # --worker-processes
CLAIM_SIZED = b"c" * 256  # a sealed first-step claim is about this size


# -- services ---------------------------------------------------------------------------------


@dataclass
class Services:
    bootstrap: str
    kafka_source: str
    s3: dict[str, Any]
    s3_source: str
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        while self.stops:
            self.stops.pop()()


def start_services() -> Services:
    """Kafka and S3: from the environment when given, else started here (from the main thread,
    so the child processes die with us)."""
    kafka = start_kafka()
    services = Services(kafka.bootstrap_servers, kafka.source, {}, "env")
    services.stops.append(kafka.stop)
    try:
        endpoint = os.environ.get("INTERMISSION_S3_ENDPOINT_URL", "").strip()
        if endpoint:
            services.s3 = {
                "endpoint_url": endpoint,
                "region": os.environ.get("INTERMISSION_S3_REGION", "us-east-1"),
                "access_key": os.environ.get("AWS_ACCESS_KEY_ID"),
                "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
            }
        else:
            s3 = start_s3()
            services.stops.append(s3.stop)
            services.s3_source = "seaweedfs"
            services.s3 = {
                "endpoint_url": s3.endpoint_url,
                "region": s3.region,
                "access_key": s3.access_key,
                "secret_key": s3.secret_key,
            }
    except BaseException:
        services.stop()
        raise
    return services


# -- tracing proxies (--trace only) -------------------------------------------------------------


class Trace:
    """Per-call latencies, and a timeline of (what, start, end) for finding the time in a cycle
    when no call is outstanding: a publish until its consumer's receipt is one Kafka call."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.timeline: list[tuple[str, float, float]] = []
        self.enabled = False

    def reset(self) -> None:
        self.samples.clear()
        self.timeline.clear()

    def mark(self, what: str, start: float, end: float | None = None) -> None:
        if self.enabled:
            self.timeline.append((what, start, start if end is None else end))

    async def timed(self, name: str, work: Awaitable[Any]) -> Any:
        start = time.perf_counter()
        try:
            return await work
        finally:
            if self.enabled:
                end = time.perf_counter()
                self.samples[name].append(end - start)
                self.timeline.append((name, start, end))


def _kind(key: str) -> str:
    """What a stored object is, from its key (service/runs/keys.py): the trace's breakdown."""
    if key.endswith("/result"):
        return "result"
    if "/claims/" in key:
        return "pause claim"
    if "/journal/" in key:
        return "first-step claim" if key.endswith("/claim") else "journal entry"
    if "index/" in key:
        return "index marker"
    if "expiries/" in key:
        return "deadline marker"
    return "snapshot"


class TracedStore:
    def __init__(self, inner: S3SnapshotStore, trace: Trace) -> None:
        self.inner, self.trace = inner, trace

    async def create(self, key: str, data: bytes) -> str:
        return str(await self.trace.timed(f"s3 create {_kind(key)}", self.inner.create(key, data)))

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        return str(await self.trace.timed(f"s3 replace {_kind(key)}", self.inner.replace(key, data, etag)))

    async def get(self, key: str) -> Any:
        start = time.perf_counter()
        found = await self.inner.get(key)
        if self.trace.enabled:
            state = "hit" if found is not None else "absent"
            self.trace.samples[f"s3 get {_kind(key)} ({state})"].append(time.perf_counter() - start)
            self.trace.mark("s3 get", start, time.perf_counter())
        return found

    async def list(self, prefix: str) -> list[str]:
        return list(await self.trace.timed("s3 list", self.inner.list(prefix)))

    async def delete(self, key: str) -> None:
        await self.trace.timed("s3 delete", self.inner.delete(key))


class TracedPublisher:
    def __init__(self, inner: KafkaPublisher, trace: Trace) -> None:
        self.inner, self.trace = inner, trace

    async def publish(self, topic: str, key: str, value: bytes, headers: Any = ()) -> None:
        await self.trace.timed(
            f"kafka publish {topic.rsplit('-', 1)[-1]}", self.inner.publish(topic, key, value, headers)
        )


class TracedSubscription:
    def __init__(self, inner: KafkaSubscription, trace: Trace) -> None:
        self.inner, self.trace = inner, trace

    async def records(self) -> AsyncIterator[Record]:
        async for record in self.inner.records():
            self.trace.mark("worker took", time.perf_counter())
            yield record

    async def commit(self, record: Record) -> None:
        await self.trace.timed("kafka commit", self.inner.commit(record))

    async def close(self) -> None:
        await self.inner.close()


# -- workers and the client ---------------------------------------------------------------------


@dataclass
class RunningWorker:
    publisher: KafkaPublisher
    store: Any  # S3SnapshotStore or ObstoreSnapshotStore
    subscription: KafkaSubscription
    task: asyncio.Task[None]

    async def stop(self) -> None:
        await self.subscription.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.publisher.stop()
        close = getattr(self.store, "close", None)
        if close is not None:
            close()


S3_CLIENT = "obstore"  # --s3-client
SNAPSHOT_COMPRESSION: Compression = "none"  # --snapshot-compression


def worker_store(bucket: str, s3: dict[str, Any]) -> Any:
    if S3_CLIENT == "obstore":
        from intermission.service.adapters.obstore import ObstoreSnapshotStore

        return ObstoreSnapshotStore(bucket, "bench/", **s3)
    return S3SnapshotStore(bucket, prefix="bench/", **s3)


async def start_worker(
    index: int,
    services: Services,
    bucket: str,
    topics: Topics,
    group: str,
    consumer_options: dict[str, Any],
    trace: Trace | None,
) -> RunningWorker:
    publisher = KafkaPublisher(services.bootstrap, client_id=f"bench-worker-{index}")
    await publisher.start()
    store = worker_store(bucket, services.s3)
    ai, _ = service_app.build()
    runs = Runs(
        ai=ai,
        store=TracedStore(store, trace) if trace else store,
        publisher=TracedPublisher(publisher, trace) if trace else publisher,
        topics=topics,
        sealer=Sealer(b"bench-snapshot-key", compression=SNAPSHOT_COMPRESSION),
    )
    subscription = KafkaSubscription(
        services.bootstrap,
        [topics.requests, topics.resumes],
        group,
        client_id=f"bench-worker-{index}",
        consumer_options=consumer_options,
    )
    await subscription.start()
    worker = Worker(runs)
    source = TracedSubscription(subscription, trace) if trace else subscription
    task = asyncio.create_task(worker.run(source))
    return RunningWorker(publisher, store, subscription, task)


class ProcessWorker:
    """A worker in its own OS process (--worker-processes): bench/_service_worker.py, which
    builds it with start_worker above. Driven over its pipes: it reports its assignment on
    stdout until told ``settled``; closing its stdin stops it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid
        self._held: frozenset[tuple[str, int]] = frozenset()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, config: dict[str, Any]) -> ProcessWorker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            WORKER_ENTRY,
            json.dumps(config),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode().rstrip("\n")
            if line.startswith("assigned "):
                self._held = frozenset((t, p) for t, p in json.loads(line.removeprefix("assigned ")))
            elif line != "stopped":
                print(f"worker {self.pid}: {line}", file=sys.stderr)

    def assignment(self) -> frozenset[tuple[str, int]]:
        if self.process.returncode is not None:
            raise RuntimeError(f"worker process {self.pid} exited with {self.process.returncode}")
        return self._held

    async def settled(self) -> None:
        """The group has settled: the worker stops polling its assignment."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"settled\n")
        await self.process.stdin.drain()

    async def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            async with asyncio.timeout(30):
                code = await self.process.wait()
        except TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        await asyncio.gather(self._reader, return_exceptions=True)
        if code != 0:
            print(f"worker process {self.pid} exited with {code}", file=sys.stderr)


class Client:
    """A caller and an approver in one: one publisher, one consumer (own group) per topic,
    events dispatched to per-run futures."""

    def __init__(self, bootstrap: str, topics: Topics, consumer_options: dict[str, Any]) -> None:
        self.topics = topics
        self.publisher = KafkaPublisher(bootstrap, client_id="bench-client")
        tag = uuid.uuid4().hex[:8]
        self.approvals = KafkaSubscription(
            bootstrap, [topics.approvals], f"bench-approver-{tag}", consumer_options=consumer_options
        )
        self.results = KafkaSubscription(
            bootstrap, [topics.results], f"bench-caller-{tag}", consumer_options=consumer_options
        )
        self._approval: dict[str, asyncio.Future[Any]] = {}
        self._result: dict[str, asyncio.Future[Any]] = {}
        self._pumps: list[asyncio.Task[None]] = []
        self.approval_size = 0
        self.last_run_id = ""
        self.trace: Trace | None = None  # --trace: marks publishes, receipts and cycles

    async def start(self) -> None:
        await self.publisher.start()
        for subscription, decode, waiting in [
            (self.approvals, decode_approval, self._approval),
            (self.results, decode_result, self._result),
        ]:
            await subscription.start()
            self._pumps.append(asyncio.create_task(self._pump(subscription, decode, waiting)))

    async def _pump(self, subscription: KafkaSubscription, decode: Any, waiting: dict[str, Any]) -> None:
        async for record in subscription.records():
            if self.trace is not None:
                self.trace.mark("client took", time.perf_counter())
            event = decode(record.value)
            if isinstance(event, InterruptRaised):
                self.approval_size = len(record.value)
            future = waiting.pop(event.run_id, None)
            if future is not None and not future.done():
                future.set_result(event)

    async def cycle(self) -> tuple[float, float, float]:
        """(whole cycle, request -> InterruptRaised, ResumeRequested publish -> RunCompleted)."""
        loop = asyncio.get_running_loop()
        run_id = f"run-{uuid.uuid4().hex}"
        approval: asyncio.Future[InterruptRaised] = loop.create_future()
        result: asyncio.Future[Any] = loop.create_future()
        self._approval[run_id], self._result[run_id] = approval, result
        request = encode(
            GenerateRequest(
                run_id=run_id,
                idempotency_key=run_id,
                messages=[Message(role="user", content=[TextPart("transfer")])],
                tools=["transferMoney"],
            )
        )
        perf = time.perf_counter
        try:
            async with asyncio.timeout(CYCLE_TIMEOUT_S):
                start = perf()
                if self.trace is not None:
                    self.trace.mark("client publish", start)
                await self.publisher.publish(self.topics.requests, run_id, request)
                raised = await approval
                approved = perf()
                resume = ResumeRequested(
                    run_id=run_id,
                    resume_id=uuid.uuid4().hex,
                    snapshot_version=raised.snapshot.version,
                    restart=[RestartAnswer(ref=raised.interrupts[0].ref, resumed={"status": "APPROVED"})],
                    answered_by="bench-approver",
                )
                if self.trace is not None:
                    self.trace.mark("client publish", perf())
                await self.publisher.publish(self.topics.resumes, run_id, encode(resume))
                done = await result
                end = perf()
                if self.trace is not None:
                    self.trace.mark("cycle", start, end)
        finally:
            self._approval.pop(run_id, None)
            self._result.pop(run_id, None)
        if not isinstance(done, RunCompleted):
            raise RuntimeError(f"run {run_id} ended with {done!r}")
        self.last_run_id = run_id
        return end - start, approved - start, end - approved

    async def close(self) -> None:
        for subscription in (self.approvals, self.results):
            await subscription.close()
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        await self.publisher.stop()


class RawChain:
    """The calls of one cycle made through the same clients, in the order and with the overlap
    the worker makes them, and nothing between them: no engine, no Runs, no codecs, no second
    consumer group. Timed end to end, from the first publish to the last receipt, so it is the
    raw I/O chain a cycle could at best be, with the same ups and downs as a cycle.

    Each call below is one of the worker's (see the CRITICAL_PATH labels); after the last hop
    the worker's offset commit goes on in the background while the next chain starts, as it
    does after a RunCompleted."""

    def __init__(self, store: Any, hop: Hop, publish: Callable[[str, str, bytes], Awaitable[Any]]) -> None:
        self.store, self.hop, self.publish = store, hop, publish
        self.snapshot = b""
        self.result = b""
        self.payload = b""
        self._background: set[asyncio.Task[None]] = set()

    def shape(self, snapshot: bytes, result: bytes, payload: bytes) -> None:
        """Objects and events the size of a real cycle's."""
        self.snapshot, self.result, self.payload = snapshot, result, payload

    def _after(self, step: Awaitable[None]) -> None:
        async def run() -> None:
            await step

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _commit(self) -> None:
        if self.hop.last is not None:
            await self.hop.subscription.commit(self.hop.last)

    async def __call__(self, _: int) -> float:
        store, hop, publish = self.store, self.hop, self.publish
        run = f"chain-{uuid.uuid4().hex}"
        v1, result = f"{run}/v1", f"{run}/result"
        start = time.perf_counter()
        await hop.round_trip(publish, self.payload)  # GenerateRequest reaches a worker
        await store.create(f"{run}/claim", self.snapshot)  # with the first reply: nothing to read
        await store.create(v1, self.snapshot)
        await hop.round_trip(publish, self.payload)  # InterruptRaised reaches the approver
        self._after(self._commit())
        await hop.round_trip(publish, self.payload)  # ResumeRequested reaches a worker
        await store.get(v1)
        await store.create(f"{run}/claims/v1", self.snapshot)
        await store.create(f"{run}/journal/1/tool", self.snapshot)
        await store.create(result, self.result)
        await hop.round_trip(publish, self.payload)  # RunCompleted reaches the caller
        elapsed = time.perf_counter() - start
        self._after(self._commit())
        return elapsed

    async def drain(self) -> None:
        await asyncio.gather(*self._background, return_exceptions=True)


async def interleaved(
    client: Client, chain: RawChain, cycles: int
) -> tuple[list[tuple[float, ...]], list[float]]:
    """``cycles`` service cycles and as many raw chains, alternately, one at a time: both see
    the same machine (load, the broker's and SeaweedFS's state) over the same minutes, so their
    ratio does not carry the drift between two runs taken minutes apart."""
    samples: list[tuple[float, ...]] = []
    chains: list[float] = []
    for i in range(cycles):
        samples.append(await client.cycle())
        chains.append(await chain(i))
    await chain.drain()
    return samples, chains


class GcPauses:
    """Collections of the garbage collector and the time they held this process's event loop
    (client and in-process workers alike), by generation, while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.count[generation] += 1
            self.seconds[generation] += time.perf_counter() - self._started

    def reset(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]

    def summary(self, cycles: int) -> str:
        return ", ".join(
            f"gen{g}: {self.count[g] / cycles:.2f} a cycle, {_ms(self.seconds[g]) / cycles:.3f} ms a cycle"
            for g in range(3)
        )


class Member(Protocol):
    def assignment(self) -> frozenset[tuple[str, int]]: ...


async def wait_assigned(members: list[Member], expected: set[tuple[str, int]]) -> None:
    """Until every member holds partitions and together they hold all (the group has settled)."""
    async with asyncio.timeout(60):
        while True:
            held = [s.assignment() for s in members]
            if all(held) and frozenset().union(*held) == expected:
                return
            await asyncio.sleep(0.05)


async def run_cycles(client: Client, concurrency: int, cycles: int) -> tuple[list[tuple[float, ...]], float]:
    """``cycles`` cycles by ``concurrency`` clients, each starting its next cycle at once."""
    samples: list[tuple[float, ...]] = []
    remaining = cycles

    async def one_client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            samples.append(await client.cycle())

    start = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return samples, time.perf_counter() - start


# -- the floor ----------------------------------------------------------------------------------


@dataclass
class Series:
    """Durations of one op (seconds) and the CPU this process spent per op (ms), less the CPU
    it burns anyway while idle (consumers polling)."""

    samples: list[float]
    cpu_ms: float


async def idle_cpu_rate(seconds: float = 2.0) -> tuple[float, ...]:
    """CPU seconds per wall second of (this process, the services, the worker processes) with
    nothing to do."""
    cpu, start = cpu_now(), time.perf_counter()
    await asyncio.sleep(seconds)
    after, wall = cpu_now(), time.perf_counter() - start
    return tuple((a - b) / wall for a, b in zip(after, cpu, strict=True))


async def sample(fn: Callable[[int], Awaitable[object]], warmup: int, n: int, idle: float) -> Series:
    for i in range(warmup):
        await fn(-1 - i)
    out = []
    cpu, begin = os.times(), time.perf_counter()
    for i in range(n):
        start = time.perf_counter()
        measured = await fn(i)
        # A step that times only part of itself (a hop beside a create) returns that time.
        out.append(measured if isinstance(measured, float) else time.perf_counter() - start)
    after, wall = os.times(), time.perf_counter() - begin
    spent = (after.user + after.system) - (cpu.user + cpu.system) - idle * wall
    return Series(out, _ms(spent) / n)


class Hop:
    """produce -> consume on a scratch topic, with the client's consumer settings."""

    def __init__(self, bootstrap: str, topic: str, consumer_options: dict[str, Any]) -> None:
        self.topic = topic
        self.subscription = KafkaSubscription(
            bootstrap, [topic], f"bench-floor-{uuid.uuid4().hex[:8]}", consumer_options=consumer_options
        )
        self._waiting: dict[bytes, asyncio.Future[Record]] = {}
        self._pump: asyncio.Task[None] | None = None
        self.last: Record | None = None
        self.ack_s = 0.0  # of the latest round trip: publish until the producer's ack

    async def start(self, partitions: int) -> None:
        await self.subscription.start()
        await wait_assigned([self.subscription], {(self.topic, p) for p in range(partitions)})
        self._pump = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for record in self.subscription.records():
            self.last = record
            future = self._waiting.pop(record.key or b"", None)
            if future is not None and not future.done():
                future.set_result(record)

    async def round_trip(self, publish: Callable[[str, str, bytes], Awaitable[Any]], payload: bytes) -> float:
        """Seconds from the publish call to the consumer's receipt."""
        key = uuid.uuid4().hex
        future: asyncio.Future[Record] = asyncio.get_running_loop().create_future()
        self._waiting[key.encode()] = future
        start = time.perf_counter()
        await publish(self.topic, key, payload)
        acked = time.perf_counter()
        async with asyncio.timeout(CYCLE_TIMEOUT_S):
            await future
        self.ack_s = acked - start
        return time.perf_counter() - start

    async def close(self) -> None:
        await self.subscription.close()
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)


class DictStore:
    """A SnapshotStore in a dict, for timing the compute of a cycle without any I/O.

    Keys are also kept sorted, so a list costs a bisect, as on S3, rather than a scan of every
    key stored so far: a scan grew with the samples taken and was most of the measured time."""

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._keys: list[str] = []
        self._version = 0

    async def create(self, key: str, data: bytes) -> str:
        if key in self._objects:
            raise PreconditionFailed(key)
        return self._put(key, data)

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        if key not in self._objects or self._objects[key][1] != etag:
            raise PreconditionFailed(key)
        return self._put(key, data)

    def _put(self, key: str, data: bytes) -> str:
        self._version += 1
        if key not in self._objects:
            bisect.insort(self._keys, key)
        self._objects[key] = (data, str(self._version))
        return str(self._version)

    async def get(self, key: str) -> StoredObject | None:
        found = self._objects.get(key)
        return None if found is None else StoredObject(data=found[0], etag=found[1])

    async def list(self, prefix: str) -> list[str]:
        found = []
        for key in self._keys[bisect.bisect_left(self._keys, prefix) :]:
            if not key.startswith(prefix):
                break
            found.append(key)
        return found

    async def delete(self, key: str) -> None:
        if self._objects.pop(key, None) is not None:
            del self._keys[bisect.bisect_left(self._keys, key)]


class LastPublished:
    def __init__(self) -> None:
        self.last: dict[str, bytes] = {}

    async def publish(self, topic: str, key: str, value: bytes, headers: Any = ()) -> None:
        self.last[topic] = value


async def compute_only(topics: Topics, warmup: int, n: int, idle: float) -> Series:
    """One cycle's Runs + engine + codec work (both handlers, every decode and encode), no I/O."""
    ai, _ = service_app.build()
    published = LastPublished()
    runs = Runs(ai=ai, store=DictStore(), publisher=published, topics=topics, sealer=Sealer(b"k"))

    async def cycle(_: int) -> None:
        run_id = uuid.uuid4().hex
        message = Message(role="user", content=[TextPart("transfer")])
        request = GenerateRequest(
            run_id=run_id, idempotency_key=run_id, messages=[message], tools=["transferMoney"]
        )
        await runs.on_request(decode_request(encode(request)))
        raised = decode_approval(published.last[topics.approvals])
        answer = RestartAnswer(ref=raised.interrupts[0].ref, resumed={"status": "APPROVED"})
        resume = ResumeRequested(run_id=run_id, resume_id=run_id, snapshot_version=1, restart=[answer])
        await runs.on_resume(decode_resume(encode(resume)))
        if not isinstance(decode_result(published.last[topics.results]), RunCompleted):
            raise RuntimeError("the in-memory cycle did not complete")

    return await sample(cycle, warmup, n, idle)


async def measure_floor(
    *,
    services: Services,
    store: S3SnapshotStore,
    client: Client,
    hop: Hop,
    snapshot: bytes,
    result: bytes,
    warmup: int,
    n: int,
    idle: float,
) -> tuple[dict[str, Series], dict[str, Series]]:
    """(floor ops, diagnostics), each timed alone, one at a time."""
    ops: dict[str, Series] = {}
    diag: dict[str, Series] = {}
    payload = b"x" * max(client.approval_size, 256)  # the largest event of a cycle

    async def hop_once(publish: Callable[[str, str, bytes], Awaitable[Any]], acks: list[float]) -> None:
        await hop.round_trip(publish, payload)
        acks.append(hop.ack_s)

    acks: list[float] = []
    ops["hop"] = await sample(lambda _: hop_once(client.publisher.publish, acks), warmup, n, idle)
    diag["kafka produce until ack (same publisher)"] = Series(acks[warmup:], math.nan)

    # The same round trip without the publisher's 2 ms linger (diagnostic only).
    eager = AIOKafkaProducer(
        bootstrap_servers=services.bootstrap, enable_idempotence=True, acks="all", linger_ms=0
    )
    await eager.start()
    try:

        async def eager_publish(topic: str, key: str, value: bytes) -> None:
            await (await eager.send(topic, value=value, key=key.encode()))

        eager_acks: list[float] = []
        diag["kafka hop, linger_ms=0 producer"] = await sample(
            lambda _: hop_once(eager_publish, eager_acks), warmup, n, idle
        )
        diag["kafka produce until ack, linger_ms=0"] = Series(eager_acks[warmup:], math.nan)
    finally:
        await eager.stop()

    assert hop.last is not None
    last = hop.last
    ops["commit"] = await sample(lambda _: hop.subscription.commit(last), warmup, n, idle)

    run = uuid.uuid4().hex[:8]
    etags: dict[int, str] = {}

    async def create(i: int) -> None:
        etags[i] = await store.create(f"floor-{run}/{i}/snapshot", snapshot)

    async def create_result(i: int) -> None:
        await store.create(f"floor-{run}/{i}/result", result)

    async def get(i: int) -> None:
        assert await store.get(f"floor-{run}/{i}/snapshot") is not None

    async def create_claim(i: int) -> None:
        await store.create(f"floor-{run}/{i}/claim", CLAIM_SIZED)

    async def replace(i: int) -> None:
        etags[i] = await store.replace(f"floor-{run}/{i}/snapshot", snapshot, etags[i])

    async def hop_beside_marker(i: int) -> float:
        elapsed, _ = await asyncio.gather(
            hop.round_trip(client.publisher.publish, payload), store.create(f"floor-{run}/{i}/marker", b"")
        )
        return elapsed

    ops["hop_beside_marker"] = await sample(hop_beside_marker, warmup, n, idle)
    ops["create_snapshot"] = await sample(create, warmup, n, idle)
    ops["get_snapshot"] = await sample(get, warmup, n, idle)
    ops["replace"] = await sample(replace, warmup, n, idle)
    ops["create_claim"] = await sample(create_claim, warmup, n, idle)
    ops["create_result"] = await sample(create_result, warmup, n, idle)
    diag["s3 list, empty prefix"] = await sample(
        lambda i: store.list(f"floor-{run}/none-{i}/"), warmup, n, idle
    )

    pool = ThreadPoolExecutor(max_workers=8)
    loop = asyncio.get_running_loop()
    try:
        diag["thread-pool hop, no-op (run_in_executor)"] = await sample(
            lambda _: loop.run_in_executor(pool, int), warmup, n, idle
        )
    finally:
        pool.shutdown()
    diag["Runs + engine + codecs, no I/O, per cycle"] = await compute_only(client.topics, warmup, n, idle)
    return ops, diag


# -- cpu accounting -----------------------------------------------------------------------------


def _children_cpu_s() -> dict[int, float]:
    """CPU seconds (user + system, all threads) of each of this process's live children: the
    broker and weed when started here, and the worker processes under --worker-processes.
    Linux only; none elsewhere."""
    found: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    me = os.getpid()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:  # fields[1] is the ppid; utime and stime are fields 11 and 12
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / tick
    return found


WORKER_PIDS: set[int] = set()  # the worker processes (--worker-processes), told from the services


def cpu_now() -> tuple[float, float, float]:
    """(this process, the services, the worker processes) CPU seconds so far. In-process
    workers count in the first."""
    own = os.times()
    children = _children_cpu_s()
    workers = sum(cpu for pid, cpu in children.items() if pid in WORKER_PIDS)
    return own.user + own.system, sum(children.values()) - workers, workers


# -- main ---------------------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return seconds * 1000


def print_floor(ops: dict[str, Series], diag: dict[str, Series], n: int, idle: tuple[float, ...]) -> Floor:
    """Prints the floor table."""
    p50 = {name: _ms(_timing.percentile(s.samples, 50)) for name, s in ops.items()}
    print(
        f"\nfloor: each raw op alone, one at a time, {n} samples; ms. cpu = this process's CPU per op "
        f"(idle polling, {idle[0] * 100:.0f}% of a core here, subtracted)"
    )
    print(f"  {'operation':<34} {'count':>5} {'p50':>7} {'p95':>7} {'x count':>8} {'cpu':>6}   made by")
    floor = Floor()

    def row(name: str, count: int, where: str) -> tuple[float, float]:
        p95 = _ms(_timing.percentile(ops[name].samples, 95))
        cost, cpu = p50[name] * count, ops[name].cpu_ms
        print(
            f"  {FLOOR_LABELS[name]:<34} {count:>5} {p50[name]:>7.2f} {p95:>7.2f} {cost:>8.2f} "
            f"{cpu:>6.2f}   {where}"
        )
        return cost, cpu * count

    for name, count, where in CRITICAL_PATH:
        cost, cpu = row(name, count, where)
        floor.critical += cost
        floor.cpu += cpu
    print(f"  {'floor, critical path':<34} {'':>5} {'':>7} {'':>7} {floor.critical:>8.2f} {floor.cpu:>6.2f}")
    print("  off the critical path (after RunCompleted is published; worker time, not latency):")
    off = 0.0
    for name, count, where in OFF_PATH:
        cost, cpu = row(name, count, where)
        off += cost
        floor.cpu += cpu
    print(
        f"  {'all ops of a cycle, serial':<34} {'':>5} {'':>7} {'':>7} {floor.critical + off:>8.2f} "
        f"{floor.cpu:>6.2f}"
    )
    print("  diagnostics (not in the floor):")
    for name, series in diag.items():
        print(
            f"  {name:<40} {_ms(_timing.percentile(series.samples, 50)):>7.2f} "
            f"{_ms(_timing.percentile(series.samples, 95)):>7.2f} {'':>8} {series.cpu_ms:>6.2f}"
        )
    # request -> raised: two hops, then two creates (the claim with the model reply, the pause).
    floor.first_half = 2 * p50["hop"] + 2 * p50["create_snapshot"]
    return floor


@dataclass
class Floor:
    critical: float = 0.0  # ms: sum of p50 x count over the critical path
    first_half: float = 0.0  # ms: the part of it up to InterruptRaised
    cpu: float = 0.0  # ms of this process's CPU for all raw ops of one cycle


def print_trace(trace: Trace, cycles: int) -> None:
    print("\ntrace at concurrency 1: worker store/publisher calls per cycle, in-cycle latency (ms)")
    print(f"  {'call':<34} {'per cycle':>9} {'p50':>8} {'p95':>8}")
    for name in sorted(trace.samples):
        s = trace.samples[name]
        print(
            f"  {name:<34} {len(s) / cycles:>9.2f} {_ms(_timing.percentile(s, 50)):>8.2f} "
            f"{_ms(_timing.percentile(s, 95)):>8.2f}"
        )
    s3 = sum(len(s) for name, s in trace.samples.items() if name.startswith("s3 ")) / cycles
    print(f"  {'s3 requests, every kind':<34} {s3:>9.2f}")


def print_idle(trace: Trace) -> None:
    """Per cycle, the time when none of its calls was outstanding: the work between calls (the
    worker's and the client's own), which the raw chain does not have. A Kafka call runs from
    its publish until the consumer on the other side took the record."""
    events = sorted(trace.timeline, key=lambda e: e[1])
    cycles = [e for e in events if e[0] == "cycle"]
    idle: list[float] = []
    gaps: dict[str, list[float]] = defaultdict(list)
    for _, begin, end in cycles:
        calls: list[tuple[float, float, str]] = []
        to_worker: list[float] = []
        to_client: list[float] = []
        for what, start, stop in (e for e in events if begin <= e[1] <= end and e[0] != "cycle"):
            if what == "client publish":
                to_worker.append(start)
            elif what == "worker took" and to_worker:
                calls.append((to_worker.pop(0), start, "hop to a worker"))
            elif what.startswith("kafka publish"):
                to_client.append(start)
            elif what == "client took" and to_client:
                calls.append((to_client.pop(0), start, "hop to the client"))
            elif what.startswith("s3"):
                calls.append((start, stop, what))
        reached, after, spent = begin, "start", 0.0
        for start, stop, what in sorted(calls):
            if start > reached:
                gaps[f"{after} -> {what}"].append(start - reached)
                spent += start - reached
            if stop >= reached:
                reached, after = stop, what
        if end > reached:
            gaps[f"{after} -> end"].append(end - reached)
            spent += end - reached
        idle.append(spent)
    if not idle:
        return
    print(
        f"\nno call outstanding, per cycle (work between calls; {len(idle)} cycles): "
        f"p50 {_ms(_timing.percentile(idle, 50)):.2f} ms; the largest gaps, by the calls around them:"
    )
    ranked = sorted(gaps.items(), key=lambda item: -sum(item[1]))[:10]
    for where, sizes in ranked:
        p50 = _ms(_timing.percentile(sizes, 50))
        print(f"  {where:<52} {len(sizes) / len(idle):>5.2f} a cycle, p50 {p50:.3f} ms")


async def bench(args: argparse.Namespace, services: Services) -> None:
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    topics = Topics(
        requests=f"{prefix}requests",
        approvals=f"{prefix}approvals",
        resumes=f"{prefix}resumes",
        results=f"{prefix}results",
        dead_letter=f"{prefix}dead-letter",
    )
    scratch = f"{prefix}floor"
    consumer_options = {**fast_consumer_kwargs(), "fetch_max_wait_ms": args.fetch_max_wait_ms}
    await ensure_topics(
        services.bootstrap,
        [topics.requests, topics.approvals, topics.resumes, topics.results, topics.dead_letter, scratch],
        args.partitions,
        1,
    )
    bucket = unique_bucket_name("bench")
    setup_store = S3SnapshotStore(bucket, **services.s3)
    await setup_store.ensure_bucket()
    setup_store.close()

    trace = Trace() if args.trace else None
    group = f"bench-workers-{uuid.uuid4().hex[:8]}"
    workers: list[RunningWorker] = []
    processes: list[ProcessWorker] = []
    floor_store: Any = None  # the floor's own store, when no worker's store lives here
    client = Client(services.bootstrap, topics, consumer_options)
    client.trace = trace
    hop = Hop(services.bootstrap, scratch, consumer_options)
    try:
        if args.worker_processes:
            config = {
                "bootstrap": services.bootstrap,
                "s3": services.s3,
                "bucket": bucket,
                "topics": msgspec.structs.asdict(topics),
                "group": group,
                "consumer_options": consumer_options,
                "s3_client": S3_CLIENT,
                "snapshot_compression": SNAPSHOT_COMPRESSION,
                "linger_ms": args.linger_ms,
            }
            starting = [ProcessWorker.start({**config, "index": i}) for i in range(args.workers)]
            outcomes = await asyncio.gather(*starting, return_exceptions=True)
            processes.extend(o for o in outcomes if isinstance(o, ProcessWorker))  # stopped below
            WORKER_PIDS.update(p.pid for p in processes)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            floor_store = worker_store(bucket, services.s3)
            members: list[Member] = list(processes)
        else:
            for i in range(args.workers):
                started = await start_worker(i, services, bucket, topics, group, consumer_options, trace)
                workers.append(started)
            members = [w.subscription for w in workers]
        store = floor_store if floor_store is not None else workers[0].store
        await client.start()

        def every(*names: str) -> set[tuple[str, int]]:
            return {(t, p) for t in names for p in range(args.partitions)}

        await wait_assigned(members, every(topics.requests, topics.resumes))
        for process in processes:
            await process.settled()
        await wait_assigned([client.approvals], every(topics.approvals))
        await wait_assigned([client.results], every(topics.results))
        await hop.start(args.partitions)

        # Warm everything (JIT, connections, caches) before any number is taken.
        await run_cycles(client, 1, args.warmup)
        await run_cycles(client, max(concurrencies), max(concurrencies))
        # A real pause and a real result, as stored: the floor's S3 ops move objects this size.
        stored_snapshot = await store.get(snapshot_key(client.last_run_id, 1))
        stored_result = await store.get(result_key(client.last_run_id))
        assert stored_snapshot is not None
        assert stored_result is not None
        idle = await idle_cpu_rate()
        ops, diag = await measure_floor(
            services=services,
            store=store,
            client=client,
            hop=hop,
            snapshot=stored_snapshot.data,
            result=stored_result.data,
            warmup=min(args.warmup, 20),
            n=args.floor_samples,
            idle=idle[0],
        )

        print(
            f"service cycle: python {platform.python_version()} on {platform.machine()}, "
            f"{os.cpu_count()} cpus; kafka {services.kafka_source} at {services.bootstrap}; "
            f"s3 {services.s3_source} at {services.s3['endpoint_url']}; "
            f"load average {os.getloadavg()[0]:.2f} (other processes share these cpus)"
        )
        where = "each in its own process" if processes else "in this process, on its event loop"
        print(
            f"  {args.workers} workers ({where}; one group, max_in_flight=64), {args.partitions} "
            "partitions per topic, replication 1; model: scripted, zero latency; snapshots HMAC-sealed"
        )
        print(
            f"  producer (KafkaPublisher): acks=all, idempotent, linger_ms={kafka_module.LINGER_MS}"
            f"{' (overridden by --linger-ms)' if args.linger_ms is not None else ''}, max_batch_size=1 MiB"
        )
        shown = {
            k: consumer_options[k]
            for k in ("fetch_max_wait_ms", "heartbeat_interval_ms", "session_timeout_ms")
        }
        print(
            f"  consumers (KafkaSubscription, workers and clients alike): {shown}, fetch_min_bytes=1, "
            "read_committed, manual commit"
        )
        print(
            f"  s3 (workers): {'obstore' if S3_CLIENT == 'obstore' else 'boto3 on a 64-thread pool'}; "
            "stored snapshot v1 "
            f"{len(stored_snapshot.data)} B, result {len(stored_result.data)} B, "
            f"InterruptRaised event {client.approval_size} B; workers' snapshot compression: "
            f"{SNAPSHOT_COMPRESSION}"
        )
        floor = print_floor(ops, diag, args.floor_samples, idle)

        print("\ncycles: publish GenerateRequest -> InterruptRaised -> publish ResumeRequested -> done")
        if processes:
            own = "the client only, all threads; wrk cpu: of the worker processes"
            idle_workers = f", worker processes {idle[2] * 100:.0f}%"
        else:
            own = "client + workers, all threads; wrk cpu: - (workers count in cpu/cyc)"
            idle_workers = ""
        print(
            f"  cpu/cyc: CPU ms per cycle of this process ({own}); "
            "svc cpu: of the broker and weed processes started here.\n"
            f"  idle (consumers polling every {args.fetch_max_wait_ms} ms, no traffic): this process "
            f"{idle[0] * 100:.0f}% of a core, services {idle[1] * 100:.0f}%{idle_workers}; "
            f"the raw ops of one cycle cost this process {floor.cpu:.2f} ms CPU"
        )
        print(
            f"  {'conc':>4} {'cycles':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
            f"{'req->raised p50':>15} {'resume->done p50':>16} {'cycles/s':>9} {'cpu/cyc':>8} "
            f"{'wrk cpu':>8} {'svc cpu':>8}"
        )
        at_one: tuple[float, float, float] | None = None
        gc_pauses = GcPauses()
        gc_lines: list[str] = []
        traced = 0
        for concurrency in concurrencies:
            cycles = max(args.cycles, 10 * concurrency)
            await run_cycles(client, concurrency, max(args.warmup, concurrency))
            if trace is not None and concurrency == 1:
                trace.reset()
                trace.enabled = True
            gc_pauses.reset()
            gc_pauses.on = True
            cpu_before = cpu_now()
            samples, wall = await run_cycles(client, concurrency, cycles)
            cpu_after = cpu_now()
            gc_pauses.on = False
            gc_lines.append(f"  at concurrency {concurrency}: {gc_pauses.summary(cycles)}")
            own_cpu = _ms(cpu_after[0] - cpu_before[0]) / cycles
            services_cpu = _ms(cpu_after[1] - cpu_before[1]) / cycles
            workers_cpu = f"{_ms(cpu_after[2] - cpu_before[2]) / cycles:>8.2f}" if processes else f"{'-':>8}"
            if trace is not None:
                trace.enabled = False
            whole = [s[0] for s in samples]
            first = _ms(_timing.percentile([s[1] for s in samples], 50))
            second = _ms(_timing.percentile([s[2] for s in samples], 50))
            summary = _timing.summarize(whole)
            print(
                f"  {concurrency:>4} {cycles:>6} {summary.p50_ms:>8.2f} {summary.p95_ms:>8.2f} "
                f"{summary.max_ms:>8.2f} {first:>15.2f} {second:>16.2f} {cycles / wall:>9.1f} "
                f"{own_cpu:>8.2f} {workers_cpu} {services_cpu:>8.2f}"
            )
            if concurrency == 1:
                at_one = (summary.p50_ms, first, second)
                traced = cycles
        print("garbage collections (they pause the loop of the client and the in-process workers):")
        print("\n".join(gc_lines))
        if trace is not None and traced:
            print_trace(trace, traced)
            print_idle(trace)
        if at_one is not None:
            p50, first, second = at_one
            half, rest = floor.first_half, floor.critical - floor.first_half
            print(
                f"\nat concurrency 1: cycle p50 / sum of the isolated ops' p50 = {p50:.2f} / "
                f"{floor.critical:.2f} ms = {p50 / floor.critical:.2f}x\n"
                f"  request->raised {first:.2f} / {half:.2f} ms = {first / half:.2f}x; "
                f"resume->done {second:.2f} / {rest:.2f} ms = {second / rest:.2f}x"
            )
            chain = RawChain(store, hop, client.publisher.publish)
            chain.shape(stored_snapshot.data, stored_result.data, b"x" * max(client.approval_size, 256))
            pairs = max(args.cycles, 10)
            await interleaved(client, chain, min(args.warmup, pairs))
            paired, chains = await interleaved(client, chain, pairs)
            cycle_p50 = _ms(_timing.percentile([s[0] for s in paired], 50))
            chain_p50 = _ms(_timing.percentile(chains, 50))
            print(
                f"\nagainst the raw I/O chain (RawChain: the cycle's calls end to end through the same "
                f"clients, nothing between them), {pairs} cycles and {pairs} chains alternately:\n"
                f"  {'':<10} {'p50 ms':>8} {'p95 ms':>8}\n"
                f"  {'cycle':<10} {cycle_p50:>8.2f} "
                f"{_ms(_timing.percentile([s[0] for s in paired], 95)):>8.2f}\n"
                f"  {'raw chain':<10} {chain_p50:>8.2f} {_ms(_timing.percentile(chains, 95)):>8.2f}\n"
                f"at concurrency 1: cycle p50 / raw chain p50 = {cycle_p50:.2f} / {chain_p50:.2f} ms = "
                f"{cycle_p50 / chain_p50:.2f}x"
            )
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        # The workers still write "resolved" and commit after the last RunCompleted: let them.
        await asyncio.sleep(1.0)
    finally:
        await hop.close()
        await client.close()
        # All members leave together: one at a time, each departure would rebalance the others
        # and fail their last commits (harmless, but noisy).
        running: list[RunningWorker | ProcessWorker] = [*workers, *processes]
        await asyncio.gather(*(w.stop() for w in running), return_exceptions=True)
        if floor_store is not None and hasattr(floor_store, "close"):
            floor_store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default=os.environ.get("BENCH_CONCURRENCY", "1,64"))
    parser.add_argument(
        "--cycles",
        type=int,
        default=int(os.environ.get("BENCH_CYCLES", "200")),
        help="timed cycles per concurrency level (at least 10 per concurrent client)",
    )
    parser.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_WARMUP", "20")))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--s3-client", choices=["boto3", "obstore"], default="obstore", help="default: the worker's"
    )
    parser.add_argument("--snapshot-compression", choices=["none", "zstd"], default="none")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument(
        "--fetch-max-wait-ms",
        type=int,
        default=500,
        help="the consumers' long-poll wait; default: aiokafka's, which the worker keeps",
    )
    parser.add_argument("--floor-samples", type=int, default=200)
    parser.add_argument(
        "--linger-ms",
        type=int,
        default=None,
        help="experiment: override KafkaPublisher's linger (default: the production value)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="count and time the workers' store and publish calls (in-process workers only)",
    )
    parser.add_argument(
        "--worker-processes",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="run each worker in its own OS process, as in production, not on this process's loop",
    )
    args = parser.parse_args()
    if args.trace and args.worker_processes:
        parser.error(
            "--trace wraps the workers' store and publisher in this process, so it cannot see "
            "workers in their own processes: drop --worker-processes to trace"
        )
    global S3_CLIENT, SNAPSHOT_COMPRESSION
    S3_CLIENT = args.s3_client
    SNAPSHOT_COMPRESSION = args.snapshot_compression
    if args.linger_ms is not None:
        # An experiment, not production: KafkaPublisher reads this constant when it is built.
        kafka_module.LINGER_MS = args.linger_ms
    services = start_services()
    try:
        asyncio.run(bench(args, services))
    finally:
        services.stop()


if __name__ == "__main__":
    main()
