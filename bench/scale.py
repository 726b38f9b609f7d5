"""The scale model: 1M paused runs and 1,000 requests/s, extrapolated from what is measured here.

Usage: ``uv run python bench/scale.py [--paused 100000] [--turns 10] [--fill-seconds 600]
[--cycles 20] [--due 3] [--s3-client obstore|boto3] [--snapshot-compression none|zstd]``;
``--paused 2000`` is the fast mode. A benchmark, not a test: it prints a table and never fails
on a number. Other processes on the machine move the timings: the header and the footer show the
load average.

Everything runs on a real SeaweedFS started here (``tests/realservices``), through the service's
own code (``Runs`` with the in-process log standing in for Kafka, the production store adapter,
the real sealer, built with ``--snapshot-compression`` as a worker's is with its
``snapshot_compression`` setting). What it measures:

1. S3 requests per request -> pause -> answer -> result cycle, by method and key area, counted
   by wrapping the store in ``tests/storecount.CountingStore``.
2. Objects and bytes a paused run and a finished run leave stored, read back from the bucket
   (so this stays true whatever the snapshot encoding becomes), at 0 and ``--turns`` turns.
3. ``--paused`` paused runs stored (or as many as ``--fill-seconds`` allows): each written as the
   worker writes a pause (``Snapshots.create`` with its pending marker, ``add_deadline``, the
   step's journal objects sealed by the real ``Sealer``), cloned from a run paused for real.
4. At that size: the expiry sweep with nothing due and with ``--due`` pauses due, beside a full
   listing of ``expiries/`` (what the sweep did before it stopped at the first key not due), and
   the first page and a full walk of ``runs list`` (``intermission.replay.list_runs``).

Then it extrapolates (bench/scale_model.py; the formulas are in docs/scale.md) to ``--rate``
cycles/s and ``--outstanding`` paused runs, with the per-process throughput and CPU given by
``--process-cycles-per-s`` / ``--process-cpu-ms`` (measured with bench/service_cycle.py).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import platform
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

# bench/ is a folder of scripts; tests/ holds realservices and the counting store.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import engine_cycle
import msgspec
import peers
import scale_model
from fakeclock import Clock
from intermission.replay import list_runs
from intermission.service import Sealer, SnapshotStore, Topics
from intermission.service.adapters.local import MemoryLog
from intermission.service.clock import Clock as TimeSource
from intermission.service.runs import Runs
from intermission.service.runs.compression import CODECS, Compression
from intermission.service.runs.index import RunIndex, RunStatus
from intermission.service.runs.keys import EXPIRY_PREFIX, journal_prefix, run_prefix
from intermission.service.runs.snapshots import Loaded, Snapshots
from intermission_schemas import (
    ExpiryPolicy,
    GenerateRequest,
    InterruptRaised,
    Message,
    RestartAnswer,
    ResumeRequested,
    RunCompleted,
    TextPart,
    decode_approval,
    decode_result,
    encode,
)
from realservices.s3 import start_s3, unique_bucket_name
from storecount import CountingStore

_T = TypeVar("_T")

SEALER = Sealer(b"scale-bench-key")  # main() rebuilds it with --snapshot-compression
TOPICS = Topics.with_prefix("scale-")
# Pauses wait a week (each writes an expiry marker, as a pause with a deadline does); the due
# ones wait a minute and the sweep runs two minutes later on a fake clock.
PAUSE_EXPIRY = timedelta(days=7)
DUE_EXPIRY = timedelta(seconds=60)
# One process (two Worker instances and the bench's client), measured on 2026-12-01 with
# `uv run python bench/service_cycle.py --concurrency 64 --cycles 320 --s3-client obstore`:
# 76.8 cycles/s and 9.52 ms of the process's CPU per cycle, 2026-12-01 20:12 UTC at a quiet
# moment (load average 1.38 at the start, 1.71 at the end, on 2 cores; docs/scale.md has the run
# beside the boto3 one).
MEASURED_PROCESS_CYCLES_PER_S = 76.8
MEASURED_PROCESS_CPU_MS = 9.52


# -- driving runs through the service code ------------------------------------------------------


@dataclass
class Service:
    """A worker's Runs on the given store, with the in-process log in place of Kafka."""

    store: SnapshotStore
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    log: MemoryLog = field(default_factory=MemoryLog)

    def __post_init__(self) -> None:
        ai, _ = engine_cycle._engine()
        self.runs = Runs(
            ai=ai,
            store=self.store,
            publisher=self.log,
            topics=TOPICS,
            sealer=SEALER,
            clock=TimeSource(now=self.clock),
            run_index=True,  # the model lists runs at scale: as workers do with INTERMISSION_RUN_INDEX
        )

    def _last(self, topic: str, run_id: str) -> bytes:
        for record in reversed(self.log.topics[topic]):
            if record.key == run_id.encode():
                return record.value
        raise RuntimeError(f"run {run_id} published nothing on {topic}")

    async def pause(self, run_id: str, turns: int, expiry: timedelta = PAUSE_EXPIRY) -> InterruptRaised:
        await self.runs.on_request(generate_request(run_id, turns, expiry))
        raised = decode_approval(self._last(TOPICS.approvals, run_id))
        assert isinstance(raised, InterruptRaised), raised
        return raised

    async def answer(self, raised: InterruptRaised) -> None:
        await self.runs.on_resume(
            ResumeRequested(
                run_id=raised.run_id,
                resume_id=uuid.uuid4().hex,
                snapshot_version=raised.snapshot.version,
                restart=[RestartAnswer(ref=raised.interrupts[0].ref, resumed={"status": "APPROVED"})],
                answered_by="scale-bench",
            )
        )
        done = decode_result(self._last(TOPICS.results, raised.run_id))
        assert isinstance(done, RunCompleted), done


def history(turns: int) -> list[Message]:
    """``turns`` earlier user/model exchanges, the same text bench/engine_cycle.py uses."""
    messages = []
    for i in range(turns):
        question, answer = peers._prior_text(i)
        messages.append(Message(role="user", content=[TextPart(question)]))
        messages.append(Message(role="model", content=[TextPart(answer)]))
    return messages


def generate_request(run_id: str, turns: int, expiry: timedelta) -> GenerateRequest:
    return GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        messages=[*history(turns), Message(role="user", content=[TextPart(peers.USER_PROMPT)])],
        tools=[peers.TOOL_NAME],
        expiry=ExpiryPolicy(after_seconds=expiry.total_seconds()),
    )


def new_run_id() -> str:
    return f"run-{uuid.uuid4().hex}"


async def timed(work: Awaitable[_T]) -> tuple[_T, float]:
    start = time.perf_counter()
    result = await work
    return result, time.perf_counter() - start


# -- 1. requests per cycle ----------------------------------------------------------------------


@dataclass
class CycleCounts:
    cycles: int
    pause: list[tuple[str, str]]  # (method, key) of every request, request -> InterruptRaised
    answer: list[tuple[str, str]]  # ResumeRequested -> result, and the resolved mark after it
    records: int  # log records per cycle (the worker's two plus the caller's two)

    def per_cycle(self, which: str = "all") -> Counter[str]:
        requests = {"pause": self.pause, "answer": self.answer, "all": self.pause + self.answer}[which]
        return Counter({m: n / self.cycles for m, n in Counter(m for m, _ in requests).items()})

    def by_area(self) -> dict[tuple[str, str], float]:
        counts = scale_model.requests_by_area(self.pause + self.answer)
        return {k: n / self.cycles for k, n in counts.items()}


async def count_cycles(store: SnapshotStore, cycles: int, turns: int) -> CycleCounts:
    pausing, answering = CountingStore(store), CountingStore(store)
    pause_side, answer_side = Service(pausing), Service(answering)
    for _ in range(cycles):
        raised = await pause_side.pause(new_run_id(), turns)
        # The answer goes to another worker (its own Runs and log): they share nothing but S3.
        await answer_side.answer(raised)
    published = sum(len(records) for s in (pause_side, answer_side) for records in s.log.topics.values())
    # The caller's GenerateRequest and the approver's ResumeRequested are records too.
    return CycleCounts(cycles, pausing.requests, answering.requests, published // cycles + 2)


# -- 2. what a run leaves stored ----------------------------------------------------------------


@dataclass
class Footprint:
    objects: Counter[str]  # by area
    size: Counter[str]  # bytes by area
    history_json: int  # the request's history, encoded: what any snapshot must hold

    @property
    def total_objects(self) -> int:
        return sum(self.objects.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.size.values())


async def footprint(store: SnapshotStore, run_id: str, request: GenerateRequest) -> Footprint:
    """Every object stored for ``run_id``: under its run prefix, and its index and expiry
    markers (found by listing those areas, so call this while they are small)."""
    keys = list(await store.list(run_prefix(run_id)))
    for area in ("index/", EXPIRY_PREFIX):
        keys += [k for k in await store.list(area) if f"/{run_id}" in k]
    objects: Counter[str] = Counter()
    size: Counter[str] = Counter()
    for key in keys:
        stored = await store.get(key)
        assert stored is not None, key
        area = scale_model.area_of(key)
        objects[area] += 1
        size[area] += len(stored.data)
    return Footprint(objects, size, len(encode(request.messages)))


async def footprints(store: SnapshotStore, turns: int) -> tuple[Footprint, Footprint]:
    """(a paused run, a finished run) at ``turns`` turns."""
    service = Service(store)
    paused_id, done_id = new_run_id(), new_run_id()
    await service.pause(paused_id, turns)
    await service.answer(await service.pause(done_id, turns))
    request = generate_request(paused_id, turns, PAUSE_EXPIRY)
    return await footprint(store, paused_id, request), await footprint(store, done_id, request)


# -- 3. many paused runs ------------------------------------------------------------------------


@dataclass
class Template:
    """A run paused for real: its snapshot and its step's journal bodies (unsealed)."""

    loaded: Loaded
    journal: dict[str, bytes]  # name under the journal prefix -> body


async def paused_template(store: SnapshotStore, turns: int) -> Template:
    service = Service(store)
    run_id = new_run_id()
    await service.pause(run_id, turns)
    snapshots = Snapshots(store, SEALER)
    loaded = await snapshots.load(run_id, 1)
    assert loaded is not None
    journal = {}
    prefix = journal_prefix(run_id, 0)
    for key in await store.list(prefix):
        stored = await store.get(key)
        assert stored is not None
        journal[key[len(prefix) :]] = SEALER.open(key, stored.data)
    return Template(loaded, journal)


async def store_paused_like(
    store: SnapshotStore, template: Template, run_id: str, deadline: datetime
) -> None:
    """One more paused run, written as Steps._settle and the step's journal write it."""
    snapshot = template.loaded.snapshot
    request = msgspec.structs.replace(snapshot.request, run_id=run_id, idempotency_key=run_id)
    copy = msgspec.structs.replace(
        snapshot, run_id=run_id, request=request, created_at=datetime.now(UTC), expires_at=deadline
    )
    for name, body in template.journal.items():
        key = journal_prefix(run_id, 0) + name
        await store.create(key, SEALER.seal(key, body))
    snapshots = Snapshots(store, SEALER, index=RunIndex(store))
    await snapshots.add_deadline(deadline, run_id, 1)
    await snapshots.create(copy)  # the snapshot, then its pending index marker


@dataclass
class Fill:
    runs: int
    seconds: float
    requests: int


async def fill(store: SnapshotStore, template: Template, wanted: int, budget_s: float, parallel: int) -> Fill:
    """Store up to ``wanted`` paused runs, ``parallel`` at a time, stopping at ``budget_s``.
    Deadlines spread over the six days after tomorrow, so none is due during the bench."""
    counting = CountingStore(store)
    start = time.perf_counter()
    first_deadline = datetime.now(UTC) + timedelta(days=1)
    spacing = timedelta(days=6) / max(wanted, 1)
    numbers = itertools.count()
    stored = 0

    async def writer() -> None:
        nonlocal stored
        while time.perf_counter() - start < budget_s:
            i = next(numbers)
            if i >= wanted:
                return
            await store_paused_like(counting, template, new_run_id(), first_deadline + i * spacing)
            stored += 1

    await asyncio.gather(*(writer() for _ in range(parallel)))
    return Fill(stored, time.perf_counter() - start, counting.total())


# -- 4. sweep and listing at that size ----------------------------------------------------------


@dataclass
class Sweep:
    swept: int
    seconds: float
    calls: Counter[str]


async def sweep(store: SnapshotStore, clock: Clock) -> Sweep:
    counting = CountingStore(store)
    swept, seconds = await timed(Service(counting, clock).runs.sweep_expired())
    return Sweep(swept, seconds, counting.calls)


async def walk(store: SnapshotStore, prefix: str) -> tuple[int, int, float]:
    """(keys, ListObjectsV2 requests, seconds) to list all of ``prefix`` page by page."""
    start, keys, pages, after = time.perf_counter(), 0, 0, ""
    while True:
        page = await store.list_page(prefix, start_after=after, limit=1000)
        pages += 1
        keys += len(page)
        if len(page) < 1000:
            return keys, pages, time.perf_counter() - start
        after = page[-1]


@dataclass
class Listing:
    what: str
    runs: int
    requests: int
    seconds: float


async def runs_list(store: SnapshotStore) -> list[Listing]:
    measured = []
    statuses: list[tuple[str, RunStatus | None]] = [("pending", "pending"), ("all statuses", None)]
    for what, status in statuses:
        counting = CountingStore(store)
        page, seconds = await timed(list_runs(counting, status=status, limit=50))
        measured.append(
            Listing(f"runs list: first page, {what} (limit 50)", len(page.runs), counting.total(), seconds)
        )
    counting, start, runs, after = CountingStore(store), time.perf_counter(), 0, ""
    while True:
        page = await list_runs(counting, status="pending", limit=1000, after=after)
        runs += len(page.runs)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    measured.append(
        Listing(
            "runs list: every pending run (limit 1000)", runs, counting.total(), time.perf_counter() - start
        )
    )
    return measured


async def due_pauses(store: SnapshotStore, clock: Clock, due: int, turns: int) -> None:
    service = Service(store, clock)
    for _ in range(due):
        await service.pause(new_run_id(), turns, DUE_EXPIRY)


# -- the report ---------------------------------------------------------------------------------


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min) / {five:.2f} (5 min)"


def show_counts(counts: CycleCounts) -> None:
    methods = ("create", "replace", "get", "list", "list_page", "delete")
    print(f"\n1. S3 requests per cycle (request -> pause -> answer -> result), {counts.cycles} cycles")
    print(f"  {'phase':<34}" + "".join(f"{m:>10}" for m in methods) + f"{'total':>8}")
    for label, which in [
        ("request -> InterruptRaised", "pause"),
        ("resume -> result, resolved", "answer"),
        ("whole cycle", "all"),
    ]:
        row = counts.per_cycle(which)
        print(f"  {label:<34}" + "".join(f"{row[m]:>10.2f}" for m in methods) + f"{sum(row.values()):>8.2f}")
    print("  by key area (per cycle):")
    by_area = counts.by_area()
    for area in sorted({a for a, _ in by_area}):
        row = Counter({m: by_area.get((area, m), 0.0) for m in methods})
        print(f"  {area:<34}" + "".join(f"{row[m]:>10.2f}" for m in methods) + f"{sum(row.values()):>8.2f}")
    print(f"  log records per cycle: {counts.records}")


def show_footprints(rows: list[tuple[str, int, Footprint]]) -> None:
    print("\n2. What a run leaves stored (read back from the bucket)")
    print(
        f"  {'run':<10} {'turns':>5} {'history B':>10} {'objects':>8} {'bytes':>8}   by area (objects/bytes)"
    )
    for label, turns, fp in rows:
        areas = ", ".join(f"{a} {fp.objects[a]}/{fp.size[a]}" for a in sorted(fp.objects))
        print(
            f"  {label:<10} {turns:>5} {fp.history_json:>10} {fp.total_objects:>8} {fp.total_bytes:>8}"
            f"   {areas}"
        )


@dataclass
class Measured:
    counts: CycleCounts
    paused: Footprint
    paused_empty: Footprint  # the same at 0 turns
    finished: Footprint
    fill: Fill
    outstanding: int  # expiry markers listed at the end of the fill
    idle: Sweep
    due: Sweep
    full_listing: tuple[int, int, float]
    listings: list[Listing]


def show_model(m: Measured, args: argparse.Namespace) -> None:
    rate, prices = args.rate, scale_model.Prices()
    per_cycle = m.counts.per_cycle()
    print(
        f"\n5. Extrapolated to {args.rate:,.0f} cycles/s and {args.outstanding:,} paused runs "
        "(formulas in docs/scale.md; every input above or named here)"
    )
    f = scale_model.fleet(rate, args.process_cycles_per_s, args.process_cpu_ms)
    print(
        f"  workers: {f.processes} processes = ceil({rate:.0f} / {args.process_cycles_per_s:.1f} cycles/s "
        f"per process, measured); cores: {f.cores:.1f} = {rate:.0f} x "
        f"{args.process_cpu_ms:.2f} ms CPU per cycle / 1000; "
        f"partitions per input topic: {f.partitions} = 2 x processes"
    )
    print(f"  log records: {m.counts.records * rate:,.0f}/s = {m.counts.records} per cycle x {rate:.0f}")
    print(
        f"  S3 requests: {sum(per_cycle.values()) * rate:,.0f}/s = {sum(per_cycle.values()):.2f} per cycle x "
        f"{rate:.0f}; per key area, against S3's {scale_model.S3_LIMITS.writes:,} writes / "
        f"{scale_model.S3_LIMITS.reads:,} reads per second per partitioned prefix:"
    )
    print(f"  {'area':<22} {'writes/s':>9} {'reads/s':>9} {'of limit (w/r)':>15}  partitions")
    loads = scale_model.prefix_loads(m.counts.by_area(), rate)
    for load in [*loads, scale_model.combined(loads, "runs/")]:
        shares = f"{load.write_share:.0%}/{load.read_share:.0%}"
        spread = (
            f"{load.partitions_needed} (spreads by run id)"
            if load.spreads
            else "1 (time-ordered keys: all new keys at one end)"
        )
        print(
            f"  {load.area:<22} {load.writes_per_s:>9,.0f} {load.reads_per_s:>9,.0f} {shares:>15}  {spread}"
        )
    time_ordered = [x for x in loads if not x.spreads]
    writes = sum(x.writes_per_s for x in time_ordered)
    print(
        f"  index/ and expiries/ together (if S3 keeps them in one partition): {writes:,.0f} writes/s = "
        f"{writes / scale_model.S3_LIMITS.writes:.0%} of one partition; the whole bucket: "
        f"{sum(x.writes_per_s for x in loads):,.0f} writes/s = "
        f"{sum(x.writes_per_s for x in loads) / scale_model.S3_LIMITS.writes:.1f}x one partition"
    )
    # A listing costs one request per 1,000 keys: scale the measured time per request.
    pages_at_scale = math.ceil(args.outstanding / 1000)
    _, pages, seconds = m.full_listing
    due_extra = (sum(m.due.calls.values()) - 1) / max(m.due.swept, 1)
    print(
        f"  expiry sweep at {args.outstanding:,} outstanding: {sum(m.idle.calls.values())} request(s) with "
        f"nothing due (measured at {m.outstanding:,}), plus {due_extra:.1f} per due pause; "
        "a full listing would be "
        f"{pages_at_scale:,} requests, about {seconds / pages * pages_at_scale:.0f} s "
        f"(= {pages_at_scale:,} x {seconds:.3f} s / {pages} requests measured)"
    )
    sweeps = scale_model.MONTH_SECONDS / args.sweep_seconds * f.processes
    print(
        f"  sweeps: {sweeps:,.0f} LIST/month = {f.processes} processes x 30 d / {args.sweep_seconds:.0f} s "
        f"= ${sweeps / 1000 * prices.put_per_1000:,.2f}/month"
    )
    walk = m.listings[-1]
    print(
        f"  runs list at {args.outstanding:,} pending: first page 1 request; every pending run "
        f"{pages_at_scale:,} requests, about {walk.seconds / walk.requests * pages_at_scale:.0f} s "
        f"(= {pages_at_scale:,} x {walk.seconds:.3f} s / {walk.requests} requests measured)"
    )
    per_turn = (m.paused.total_bytes - m.paused_empty.total_bytes) / max(args.turns, 1)
    print(
        f"  each prior turn adds {per_turn:,.0f} B to a paused run "
        f"(= ({m.paused.total_bytes:,} - {m.paused_empty.total_bytes:,}) B / {args.turns} turns)"
    )
    paused_bytes = m.paused.total_bytes * args.outstanding
    finished_month = m.finished.total_bytes * rate * scale_model.MONTH_SECONDS
    put_usd, get_usd = scale_model.monthly_request_cost(per_cycle, rate, prices)
    print(
        f"  stored: {args.outstanding:,} paused runs x {m.paused.total_bytes:,} B = "
        f"{paused_bytes / 1e9:,.1f} GB "
        f"({m.paused.total_objects * args.outstanding:,} objects) = "
        f"${scale_model.storage_cost(paused_bytes, prices):,.2f}/month"
    )
    print(
        f"  finished runs kept: {m.finished.total_bytes:,} B x {rate:.0f}/s x 30 d = "
        f"{finished_month / 1e12:,.1f} TB per month kept = "
        f"${scale_model.storage_cost(finished_month, prices):,.0f}/month for each month of retention "
        f"(Intermission deletes no finished run; a lifecycle rule must)"
    )
    print(
        f"  requests: ${put_usd:,.0f}/month PUT+LIST tier + ${get_usd:,.0f}/month GET tier "
        f"(DELETE free) at ${prices.put_per_1000}/1000 and ${prices.get_per_1000}/1000"
    )


async def measure(args: argparse.Namespace, s3: Any) -> Measured:
    bucket = unique_bucket_name("scale")
    s3.client().create_bucket(Bucket=bucket)
    store = make_store(args.s3_client, bucket, s3)
    print(
        f"scale model: python {platform.python_version()}, {os.cpu_count()} cpus shared with other "
        f"processes, load average {load_average()}; s3: SeaweedFS at {s3.endpoint_url} through "
        f"{args.s3_client}; snapshot compression {SEALER.compression}; {args.turns} prior turns per run; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    counts = await count_cycles(store, args.cycles, args.turns)
    show_counts(counts)
    rows = []
    for turns in sorted({0, args.turns}):
        paused, finished = await footprints(store, turns)
        rows += [("paused", turns, paused), ("finished", turns, finished)]
    show_footprints(rows)
    paused, finished = rows[-2][2], rows[-1][2]

    clock = Clock()
    await due_pauses(store, clock, args.due, args.turns)
    template = await paused_template(store, args.turns)
    print(
        f"\n3. Storing {args.paused:,} paused runs ({args.parallel} at a time, "
        f"at most {args.fill_seconds:.0f} s)"
    )
    filled = await fill(store, template, args.paused, args.fill_seconds, args.parallel)
    print(
        f"  stored {filled.runs:,} in {filled.seconds:.1f} s: {filled.runs / filled.seconds:,.0f} runs/s, "
        f"{filled.requests / filled.seconds:,.0f} S3 requests/s "
        f"({filled.requests / max(filled.runs, 1):.1f} per run)"
    )

    full_listing = await walk(store, EXPIRY_PREFIX)
    outstanding = full_listing[0]
    print(f"\n4. At {outstanding:,} outstanding expiry markers (load average {load_average()})")
    idle = await sweep(store, clock)
    clock.now += DUE_EXPIRY * 2
    due = await sweep(store, clock)
    print(f"  {'operation':<48} {'runs':>8} {'requests':>9} {'seconds':>9}")
    for label, result in [("expiry sweep, nothing due", idle), (f"expiry sweep, {args.due} due", due)]:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(result.calls.items()))
        print(
            f"  {label:<48} {result.swept:>8} {sum(result.calls.values()):>9} {result.seconds:>9.3f}"
            f"   {calls}"
        )
    keys, pages, seconds = full_listing
    print(f"  {'baseline: full listing of expiries/ (pre-fba5a8c)':<48} {keys:>8} {pages:>9} {seconds:>9.3f}")
    listings = await runs_list(store)
    for listing in listings:
        print(f"  {listing.what:<48} {listing.runs:>8} {listing.requests:>9} {listing.seconds:>9.3f}")
    return Measured(
        counts, paused, rows[0][2], finished, filled, outstanding, idle, due, full_listing, listings
    )


def use_compression(codec: Compression) -> None:
    """Seal with ``codec``, as build_worker makes a worker's Sealer from its settings."""
    global SEALER
    SEALER = Sealer(b"scale-bench-key", compression=codec)


def make_store(client: str, bucket: str, s3: Any) -> Any:
    options = {
        "endpoint_url": s3.endpoint_url,
        "region": s3.region,
        "access_key": s3.access_key,
        "secret_key": s3.secret_key,
    }
    if client == "boto3":
        from intermission.service.adapters.s3 import S3SnapshotStore

        return S3SnapshotStore(bucket, prefix="scale/", **options)
    from intermission.service.adapters.obstore import ObstoreSnapshotStore

    return ObstoreSnapshotStore(bucket, "scale/", **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paused", type=int, default=100_000, help="paused runs to store (2000: fast mode)")
    parser.add_argument(
        "--fill-seconds", type=float, default=600.0, help="stop storing paused runs after this"
    )
    parser.add_argument("--parallel", type=int, default=64, help="paused runs written at a time")
    parser.add_argument("--turns", type=int, default=10, help="prior user/model exchanges in every run")
    parser.add_argument("--cycles", type=int, default=20, help="cycles counted for requests per cycle")
    parser.add_argument("--due", type=int, default=3, help="pauses due at the measured sweep")
    parser.add_argument("--s3-client", choices=["obstore", "boto3"], default="obstore")
    parser.add_argument(
        "--snapshot-compression",
        choices=CODECS,
        default="none",
        help="how new objects are stored, as the worker's snapshot_compression setting",
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="cycles/s to extrapolate to")
    parser.add_argument("--outstanding", type=int, default=1_000_000, help="paused runs to extrapolate to")
    parser.add_argument("--sweep-seconds", type=float, default=30.0, help="expiry sweep interval (settings)")
    parser.add_argument("--process-cycles-per-s", type=float, default=MEASURED_PROCESS_CYCLES_PER_S)
    parser.add_argument("--process-cpu-ms", type=float, default=MEASURED_PROCESS_CPU_MS)
    args = parser.parse_args()
    use_compression(args.snapshot_compression)
    s3 = start_s3()
    try:
        measured = asyncio.run(measure(args, s3))
        show_model(measured, args)
        print(f"\nload average at the end: {load_average()}")
    finally:
        s3.stop()


if __name__ == "__main__":
    main()
