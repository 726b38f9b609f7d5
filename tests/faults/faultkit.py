"""What the fault tests share: a lane (topics, group, bucket, directories), worker processes,
a client that talks to the workers only through Kafka, and the counts read from what the
workers and the fault app recorded.

Everything here is black-box: workers are separate processes (worker_process.py, which runs
the real `intermission worker`), requests and answers go in through topics, outcomes come
back from topics, and effects are counted from fault_app's files.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from intermission_producer import BrokerError, KafkaProducer
from intermission_schemas import (
    DeadLetter,
    GenerateRequest,
    InterruptRaised,
    Message,
    RestartAnswer,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    TextPart,
    Topics,
    decode_approval,
    decode_dead_letter,
    decode_result,
    encode,
)
from realservices.kafka import LOCAL_MIN_SESSION_TIMEOUT_MS, KafkaService, fast_consumer_kwargs
from realservices.plugin import S3Bucket
from terminal_check import assert_one_end

FAULTS_DIR = Path(__file__).resolve().parent
TESTS_DIR = FAULTS_DIR.parent
WORKER_SCRIPT = FAULTS_DIR / "worker_process.py"


def takeover_consumer_options(kafka: KafkaService) -> dict[str, Any]:
    """Consumer settings for workers whose partitions must move quickly when one dies."""
    if kafka.source == "local":  # our brokers accept short sessions (see realservices.kafka)
        session = max(LOCAL_MIN_SESSION_TIMEOUT_MS, 2500)
        return {**fast_consumer_kwargs(session_timeout_ms=session), "heartbeat_interval_ms": 250}
    return fast_consumer_kwargs()


@dataclass
class Lane:
    """One isolated setting: its own topics, consumer group, bucket prefix and directories."""

    bootstrap: str
    bucket: S3Bucket
    directory: Path
    partitions: int = 2
    name: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def __post_init__(self) -> None:
        self.topics = Topics.with_prefix(f"faults-{self.name}-")
        self.group = f"faults-{self.name}-workers"
        self.effects = self.directory / "effects"  # fault_app's INTERMISSION_FAULTS_DIR
        self.state = self.directory / "state"  # the kill switch's counters and markers
        self.logs = self.directory / "logs"
        for folder in (self.effects, self.state, self.logs):
            folder.mkdir(parents=True, exist_ok=True)

    async def create_topics(self) -> None:
        """As an operator does: `intermission topics create`, with the lane's settings."""
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "intermission.cli",
            "topics",
            "create",
            "--partitions",
            str(self.partitions),
            env=self.environment(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        assert process.returncode == 0, f"intermission topics create failed:\n{output.decode()}"

    def environment(self) -> dict[str, str]:
        t = self.topics
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(FAULTS_DIR), str(TESTS_DIR)]),
            "INTERMISSION_APP": "fault_app:ai",
            "INTERMISSION_FAULTS_DIR": str(self.effects),
            "INTERMISSION_BOOTSTRAP_SERVERS": self.bootstrap,
            "INTERMISSION_GROUP_ID": self.group,
            "INTERMISSION_TOPIC_REQUESTS": t.requests,
            "INTERMISSION_TOPIC_APPROVALS": t.approvals,
            "INTERMISSION_TOPIC_RESUMES": t.resumes,
            "INTERMISSION_TOPIC_RESULTS": t.results,
            "INTERMISSION_TOPIC_DEAD_LETTER": t.dead_letter,
            "INTERMISSION_BUCKET": self.bucket.name,
            "INTERMISSION_PREFIX": f"{self.name}/",
            "INTERMISSION_S3_ENDPOINT_URL": self.bucket.endpoint_url,
            "INTERMISSION_S3_REGION": self.bucket.region,
            "INTERMISSION_SNAPSHOT_KEY": "faults-key",
            # A killed worker's claim is taken over once its lease lapses: 30 s by default,
            # shorter here so that a CI-sized test sees takeovers.
            "INTERMISSION_CLAIM_LEASE_SECONDS": "6",
            # Several workers of a lane share this machine: no health port unless a test asks.
            "INTERMISSION_HEALTH_PORT": "0",
            "AWS_ACCESS_KEY_ID": self.bucket.access_key,
            "AWS_SECRET_ACCESS_KEY": self.bucket.secret_key,
        }

    async def committed_everything(self) -> bool:
        """True when the group has committed every record of the requests and resumes topics."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await admin.start()
        await consumer.start()
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in (self.topics.requests, self.topics.resumes)
                for p in range(self.partitions)
            ]
            ends = await consumer.end_offsets(partitions)
            committed = await admin.list_consumer_group_offsets(self.group, partitions=partitions)
        finally:
            await consumer.stop()
            await admin.close()
        return all(end == 0 or (tp in committed and committed[tp].offset >= end) for tp, end in ends.items())


class WorkerProcess:
    """One `worker_process.py`; its output goes to a log file in the lane."""

    def __init__(self, lane: Lane, process: asyncio.subprocess.Process, log: Path) -> None:
        self.lane, self.process, self.log = lane, process, log

    @classmethod
    async def start(
        cls,
        lane: Lane,
        *,
        kill: Iterable[str] = (),
        consumer_options: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        log = lane.logs / f"worker-{time.monotonic_ns()}.log"
        arguments = [str(WORKER_SCRIPT), "--state", str(lane.state)]
        for spec in kill:
            arguments += ["--kill", spec]
        if consumer_options:
            arguments += ["--consumer-options", json.dumps(consumer_options)]
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *arguments,
                env={**lane.environment(), **(env or {})},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        return cls(lane, process, log)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def terminate(self, grace: float = 30.0) -> int:
        """SIGTERM, as Kubernetes stops a pod; SIGKILL if it has not exited within `grace` s."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(grace):
                return await self.process.wait()
        except TimeoutError:
            self.kill()
            return await self.process.wait()

    def kill(self) -> None:
        if self.alive:
            self.process.kill()

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.log.name} (exit {self.process.returncode}) ---\n" + "\n".join(text)


class Supervisor:
    """Keeps `count` workers running, restarting any that dies, as a Deployment does.

    ``restart_after_kill_s``: how long a SIGKILLed worker stays away before its restart, so
    that the other workers must take over what it held."""

    def __init__(
        self, lane: Lane, count: int = 1, *, restart_after_kill_s: float = 0.0, **options: Any
    ) -> None:
        self.lane, self.count, self.options = lane, count, options
        self.restart_after_kill_s = restart_after_kill_s
        self.started: list[WorkerProcess] = []
        self.restarts = 0
        self.failures: list[int] = []  # exit codes of workers that died other than by SIGKILL
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        for _ in range(self.count):
            self._tasks.append(asyncio.create_task(self._keep_one()))

    async def _keep_one(self) -> None:
        while not self._stopping:
            worker = await WorkerProcess.start(self.lane, **self.options)
            self.started.append(worker)
            code = await worker.process.wait()
            if not self._stopping:
                self.restarts += 1
                if code != -signal.SIGKILL:
                    self.failures.append(code)
                    await asyncio.sleep(1.0)  # a crash loop, as Kubernetes would back off
                else:
                    await asyncio.sleep(self.restart_after_kill_s)

    async def stop(self) -> list[int | None]:
        self._stopping = True
        codes = [await w.terminate() for w in self.started if w.alive]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        return codes

    def logs(self) -> str:
        return "\n".join(w.tail() for w in self.started[-4:])


class Client:
    """Requests and answers in, approvals, results and dead letters out, all through Kafka."""

    def __init__(self, lane: Lane) -> None:
        self.lane = lane
        self.approvals: list[InterruptRaised] = []
        self.results: list[RunCompleted | RunFailed | ResumeRejected] = []
        self.dead_letters: list[DeadLetter] = []
        self.first_seen: dict[str, float] = {}  # run id -> when its first result arrived
        self.last_output_at = 0.0
        self._changed = asyncio.Condition()
        # The SDK's producer, as every Intermission part publishes with: it is replaced when an
        # outage breaks it, and a delivery that outlasts its timeout is a retriable BrokerError.
        self._producer = KafkaProducer(
            lane.bootstrap, delivery_timeout=30.0, producer_options={"request_timeout_ms": 10000}
        )
        self._consumers: list[AIOKafkaConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Client:
        await self._producer.start()
        t = self.lane.topics
        for topic, decode, sink in [
            (t.approvals, decode_approval, self.approvals),
            (t.results, decode_result, self.results),
            (t.dead_letter, decode_dead_letter, self.dead_letters),
        ]:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.lane.bootstrap,
                auto_offset_reset="earliest",
                fetch_max_wait_ms=100,
                metadata_max_age_ms=2000,
            )
            consumer.assign([TopicPartition(topic, p) for p in range(self.lane.partitions)])
            await consumer.start()
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(self._collect(consumer, decode, sink)))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for consumer in self._consumers:
            await consumer.stop()
        await self._producer.stop()
        if exc[0] is None:  # a failing test keeps its own error
            # The workers are other processes: their ends are checked here, as read from Kafka.
            assert_one_end(self.results)

    async def _collect(
        self, consumer: AIOKafkaConsumer, decode: Callable[[bytes], Any], sink: list[Any]
    ) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=200)
            except Exception:  # the broker is down for an outage test: keep asking
                await asyncio.sleep(0.5)
                continue
            events = [decode(r.value) for records in batches.values() for r in records]
            now = time.monotonic()
            # Notified on every poll, events or not, so that waits whose predicates look at
            # something besides events (a worker process still alive) see it change.
            async with self._changed:
                for event in events:
                    sink.append(event)
                    if isinstance(event, RunCompleted | RunFailed):
                        self.first_seen.setdefault(event.run_id, now)
                if events:
                    self.last_output_at = now
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until `predicate()` holds; False (not an error) when `within` seconds pass."""
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(predicate)
        except TimeoutError:
            return predicate()
        return True

    async def publish(self, topic: str, key: str, event: Any, *, within: float | None = None) -> None:
        """Publish, retrying while the broker is away (an outage test's client keeps trying),
        for ``within`` seconds (default `PUBLISH_WITHIN_S`, read when called)."""
        deadline = time.monotonic() + (PUBLISH_WITHIN_S if within is None else within)
        while True:
            try:
                await self._producer.publish(topic, key, encode(event))
                return
            except BrokerError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def submit(self, run_id: str, text: str) -> None:
        request = GenerateRequest(
            run_id=run_id,
            idempotency_key=run_id,
            messages=[Message(role="user", content=[TextPart(text)])],
            tools=["transferMoney", "notify", "slowTool"],
        )
        await self.publish(self.lane.topics.requests, run_id, request)

    async def answer(
        self,
        run_id: str,
        resume_id: str,
        status: str = "APPROVED",
        *,
        version: int = 1,
        ref: str = "transfer",
    ) -> None:
        resume = ResumeRequested(
            run_id=run_id,
            resume_id=resume_id,
            snapshot_version=version,
            restart=[RestartAnswer(ref=ref, resumed={"status": status, "resumeId": resume_id})],
            answered_by="faults",
        )
        await self.publish(self.lane.topics.resumes, run_id, resume)

    def paused(self) -> set[str]:
        return {a.run_id for a in self.approvals if a.snapshot.version == 1}

    def finished(self) -> set[str]:
        return {r.run_id for r in self.results if isinstance(r, RunCompleted | RunFailed)}


async def stop_approver(approver: asyncio.Task[None]) -> AssertionError | None:
    """Cancel an `approve_as_raised` task; an error if it had died before. An approver that
    died (a publish it could not retry) leaves every later pause unanswered: its own error is
    the finding, not the runs it left without an outcome."""
    approver.cancel()
    (ended,) = await asyncio.gather(approver, return_exceptions=True)
    if isinstance(ended, Exception):
        died = AssertionError(f"the approver stopped: {ended!r}")
        died.__cause__ = ended
        return died
    return None


async def approve_as_raised(client: Client, runs: set[str], answered: set[str]) -> None:
    """An approver: answers each run's pause once, as soon as it is raised."""
    while True:
        await client.wait_for(lambda: bool((client.paused() & runs) - answered), within=1.0)
        for run_id in sorted((client.paused() & runs) - answered):
            answered.add(run_id)
            await client.answer(run_id, f"approve-{run_id}")


# --- counting what happened ----------------------------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@dataclass
class Tally:
    runs: int
    lost: list[str]  # runs with no RunCompleted
    failed: list[str]  # runs that ended in RunFailed
    # A tool call started again after its output was journaled: the service's meaning of
    # finished. (A call cut off between its effect and its journal write may run again.)
    finished_calls_repeated: int
    idempotent_effects_repeated: int  # transfers applied under more than one key, per call
    transfers_issued_twice: int  # approved transferMoney calls that reached their effect twice
    notify_effects_repeated: int  # the tool without idempotency: extra effects
    pauses_applied_more_than_once: list[str]  # runs with >1 applied resume or >1 distinct outcome
    applied_answers_rejected: list[str]  # resume ids applied and also answered ResumeRejected
    answers_without_outcome: list[str]  # resume ids neither applied nor rejected
    dead_letters: int
    terminal_events: int
    model_calls_repeated: int
    kills: int
    rejections: Counter[str] = field(default_factory=Counter)  # ResumeRejected by reason

    def line(self, runs: int, points: int) -> str:
        pauses = (
            "each pause applied once"
            if not self.pauses_applied_more_than_once
            else f"{len(self.pauses_applied_more_than_once)} pauses applied more than once"
        )
        rejected = (
            "no applied answer also rejected"
            if not self.applied_answers_rejected
            else f"{len(self.applied_answers_rejected)} applied answers also rejected"
        )
        return (
            f"{runs} runs x {points} points: {len(self.lost)} lost, "
            f"{self.finished_calls_repeated} finished tool calls repeated, "
            f"{self.idempotent_effects_repeated} effects repeated by tools that use the idempotency key, "
            f"{pauses}, {rejected}"
        )

    def details(self) -> str:
        return (
            f"lost={self.lost[:10]} failed={self.failed[:10]} "
            f"answers_without_outcome={self.answers_without_outcome[:10]} "
            f"dead_letters={self.dead_letters} terminal_events={self.terminal_events} "
            f"approved_transfers_issued_twice={self.transfers_issued_twice} "
            f"notify_effects_repeated={self.notify_effects_repeated} "
            f"model_calls_repeated={self.model_calls_repeated} kills={self.kills} "
            f"rejections={dict(self.rejections)} "
            f"pauses_applied_more_than_once={self.pauses_applied_more_than_once[:10]} "
            f"applied_answers_rejected={self.applied_answers_rejected[:10]}"
        )


def tally(lane: Lane, client: Client, runs: Iterable[str], sent: dict[str, set[str]]) -> Tally:
    """Counts from the topics and fault_app's files. `sent`: run id -> resume ids sent."""
    runs = sorted(runs)
    calls = _lines(lane.effects / "calls.jsonl")

    journaled = {j["idempotency_key"]: j["t"] for j in _lines(lane.effects / "journal.jsonl")}
    repeated = 0
    effects_per_call: dict[tuple[str, str], set[str]] = defaultdict(set)
    transfer_effects: Counter[tuple[str, str]] = Counter()
    applied: dict[str, set[str]] = defaultdict(set)
    for call in calls:
        key = (call["run_id"], call["ref"])
        if call["event"] == "start":
            done_at = journaled.get(call.get("idempotency_key") or "")
            if done_at is not None and done_at < call["t"]:
                repeated += 1
            if call["tool"] == "transferMoney" and call.get("resume_id"):
                applied[call["run_id"]].add(call["resume_id"])
        elif call["event"] == "effect" and call["tool"] == "transferMoney":
            transfer_effects[key] += 1
            if call.get("applied"):
                effects_per_call[key].add(call["key"])

    notifications = Counter((n["run_id"], n["ref"]) for n in _lines(lane.effects / "notifications.jsonl"))
    model_calls = Counter((m["run_id"], m["turn"]) for m in _lines(lane.effects / "model.jsonl"))

    outcomes: dict[str, set[tuple[str, str]]] = defaultdict(set)
    rejected: dict[str, set[str]] = defaultdict(set)
    for event in client.results:
        if isinstance(event, RunCompleted):
            outcomes[event.run_id].add(("completed", event.text))
        elif isinstance(event, RunFailed):
            outcomes[event.run_id].add(("failed", event.code))
        else:
            rejected[event.run_id].add(event.resume_id)

    completed = {r for r in runs if any(kind == "completed" for kind, _ in outcomes[r])}
    return Tally(
        runs=len(runs),
        lost=[r for r in runs if r not in completed and not outcomes[r]],
        failed=[r for r in runs if any(kind == "failed" for kind, _ in outcomes[r])],
        finished_calls_repeated=repeated,
        idempotent_effects_repeated=sum(len(keys) - 1 for keys in effects_per_call.values() if len(keys) > 1),
        transfers_issued_twice=sum(1 for n in transfer_effects.values() if n > 1),
        notify_effects_repeated=sum(n - 1 for n in notifications.values() if n > 1),
        pauses_applied_more_than_once=[r for r in runs if len(applied[r]) > 1 or len(outcomes[r]) > 1],
        applied_answers_rejected=[rid for r in runs for rid in applied[r] & rejected[r]],
        answers_without_outcome=[
            rid
            for r in runs
            for rid in sent.get(r, set())
            if rid not in applied[r] and rid not in rejected[r]
        ],
        dead_letters=len(client.dead_letters),
        terminal_events=sum(1 for e in client.results if isinstance(e, RunCompleted | RunFailed)),
        model_calls_repeated=sum(n - 1 for n in model_calls.values() if n > 1),
        kills=len(_lines(lane.state / "kills.jsonl")),
        rejections=Counter(e.reason for e in client.results if isinstance(e, ResumeRejected)),
    )


async def quiesce(lane: Lane, client: Client, runs: set[str], within: float) -> float:
    """Wait until every run has an outcome and the group has committed all input; returns the
    seconds waited. Never raises: the caller's assertions say what is missing."""
    started = time.monotonic()
    deadline = started + within
    await client.wait_for(lambda: runs <= client.finished(), within=within)
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if await lane.committed_everything():
                break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


# --- runs in flight through a fault ---------------------------------------------------------------

# How long a client keeps retrying a publish while the broker is away; the long-outage bench
# raises it beyond its outage.
PUBLISH_WITHIN_S = 180.0
RECOVERY_S = 60.0  # after the service is back, how long the runs may take to complete


@dataclass(frozen=True)
class Recovery:
    """How long outcomes took, in seconds. From the moment the fault began: to the first
    outcome and to the last (every run settled). From the moment the service was back: the same
    two. None: no outcome came after that moment."""

    first_after_fault: float | None
    all_after_fault: float
    first_after_back: float | None
    all_after_back: float

    def line(self) -> str:
        def s(value: float | None) -> str:
            return "never" if value is None else f"{value:.1f} s"

        return (
            f"first outcome {s(self.first_after_fault)} after the fault began "
            f"({s(self.first_after_back)} after the service was back); all runs settled "
            f"{self.all_after_fault:.1f} s after the fault began "
            f"({self.all_after_back:.1f} s after it was back)"
        )


async def flow_through(
    lane: Lane,
    runs: int,
    *,
    before: int,
    spacing: float,
    outage: Callable[[], Awaitable[float]],
    during: float | None = None,
) -> Recovery:
    """Submit `runs` runs `spacing` s apart, answering each pause as it is raised; the outage
    begins after `before` runs were submitted (``during``: the rest are spread over that many
    seconds instead, to keep runs arriving while a long fault lasts). `outage()` returns when
    the service is back, with the monotonic time at which it was. Asserts that nothing is lost,
    failed, dead-lettered or applied twice, and prints (and returns) how long outcomes took."""
    await lane.create_topics()
    ids = [f"run-{lane.name}-{i}" for i in range(runs)]
    answered: set[str] = set()
    started = time.monotonic()
    async with Client(lane) as client:
        worker = await WorkerProcess.start(lane)
        approver = asyncio.create_task(approve_as_raised(client, set(ids), answered))
        try:
            for run_id in ids[:before]:
                await client.submit(run_id, f"transfer {run_id}")
                await asyncio.sleep(spacing)
            # The outage hits a worker that is serving (a worker that cannot reach its
            # dependencies at start exits non-zero by design, and is not what is tested here).
            serving = await client.wait_for(
                lambda: bool(client.paused()) or not worker.alive, within=RECOVERY_S
            )
            assert serving, f"no run paused before the outage\n{worker.tail(40)}"
            assert worker.alive, f"the worker exited before the outage\n{worker.tail(40)}"
            fault_at = time.monotonic()
            outage_task = asyncio.create_task(outage())
            gap = spacing if during is None else during / max(1, runs - before)
            for run_id in ids[before:]:
                await asyncio.sleep(gap)
                await client.submit(run_id, f"transfer {run_id}")
            back_at = await outage_task
            # Waits for the first outcome after the service is back, unless every run has one.
            await client.wait_for(
                lambda: (
                    set(ids) <= client.finished()
                    or any(at >= back_at for at in client.first_seen.values())
                    or not worker.alive
                ),
                within=RECOVERY_S,
            )
            if worker.alive:
                await quiesce(lane, client, set(ids), within=RECOVERY_S)
            settled_at = max(client.first_seen.values(), default=time.monotonic())
        finally:
            died = await stop_approver(approver)
            code = await worker.terminate()
        if died is not None:
            raise died
        t = tally(lane, client, ids, {r: {f"approve-{r}"} for r in answered})

    def first_after(moment: float) -> float | None:
        later = [at for at in client.first_seen.values() if at >= moment]
        return min(later) - moment if later else None

    recovery = Recovery(
        first_after_fault=first_after(fault_at),
        all_after_fault=settled_at - fault_at,
        first_after_back=first_after(back_at),
        all_after_back=max(0.0, settled_at - back_at),
    )
    print(
        f"time to recover: {recovery.line()}; test took {time.monotonic() - started:.1f} s; "
        f"worker exit {code}"
    )
    print(t.line(runs, 1))
    print(t.details())
    logs = worker.tail(40)
    assert t.dead_letters == 0, f"{t.details()}\n{logs}"
    assert t.answers_without_outcome == [], f"{t.details()}\n{logs}"
    assert sorted(answered) == sorted(ids), f"{len(ids) - len(answered)} runs never paused\n{logs}"
    assert t.lost == [], f"{t.details()}\n{logs}"
    assert t.failed == [], f"{t.details()}\n{logs}"
    assert t.pauses_applied_more_than_once == [], f"{t.details()}\n{logs}"
    assert t.idempotent_effects_repeated == 0, f"{t.details()}\n{logs}"
    assert t.transfers_issued_twice == 0, f"{t.details()}\n{logs}"
    return recovery
