"""Backends and a harness for the service tests: explicit objects, no fixture magic.

A backend is the pair of seams (log and store) either in memory or real (Kafka + SeaweedFS).
The harness starts workers on it, publishes events, and collects what the workers publish.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fakeclock import Clock
from intermission import Intermission
from intermission.service import Publisher, Sealer, SnapshotStore, Subscription, Topics, Worker
from intermission.service.adapters.local import LocalSnapshotStore, MemoryLog
from intermission.service.clock import REAL_CLOCK
from intermission.service.clock import Clock as TimeSource
from intermission.service.runs import Runs
from intermission.service.runs.compression import Compression
from intermission.service.runs.keyring import KeyRing
from intermission.service.runs.signatures import AnswerKeys
from intermission.service.runs.tokens import ResumeTokens
from intermission_schemas import (
    DeadLetter,
    GenerateRequest,
    InterruptRaised,
    Message,
    RestartAnswer,
    ResultEvent,
    ResumeRequested,
    RunCompleted,
    TextPart,
    decode_approval,
    decode_dead_letter,
    decode_result,
    encode,
)


class Backend:
    """Memory: MemoryLog + LocalSnapshotStore. Subclassed by RealBackend."""

    name = "memory"

    def __init__(self, directory: Path, topics: Topics) -> None:
        self.topics = topics
        self.log = MemoryLog()
        self.publisher: Publisher = self.log
        self.store: SnapshotStore = LocalSnapshotStore(directory)

    async def subscribe(self, topics: list[str], group: str) -> Subscription:
        return self.log.subscribe(topics, group)

    async def publish_raw(self, topic: str, key: str, value: bytes) -> None:
        await self.publisher.publish(topic, key, value)

    async def close(self) -> None:
        pass


class RealBackend(Backend):
    """Real Apache Kafka and a real S3-compatible server (SeaweedFS)."""

    name = "real"

    def __init__(self, bootstrap: str, bucket: Any, topics: Topics, consumer_options: dict[str, Any]) -> None:
        from intermission.service.adapters.kafka import KafkaPublisher
        from intermission.service.adapters.s3 import S3SnapshotStore

        self.topics = topics
        self.bootstrap = bootstrap
        self.bucket = bucket
        self.consumer_options = consumer_options
        self.kafka = KafkaPublisher(bootstrap, max_request_size=4 * 1024 * 1024)
        self.publisher = self.kafka
        self.store = S3SnapshotStore(
            bucket=bucket.name,
            prefix="it/",
            endpoint_url=bucket.endpoint_url,
            region=bucket.region,
            access_key=bucket.access_key,
            secret_key=bucket.secret_key,
        )

    async def start(self) -> None:
        from intermission.service.adapters.kafka import ensure_topics

        t = self.topics
        await ensure_topics(
            self.bootstrap, [t.requests, t.approvals, t.resumes, t.results, t.dead_letter], 2, 1
        )
        await self.kafka.start()

    async def subscribe(self, topics: list[str], group: str) -> Subscription:
        from intermission.service.adapters.kafka import KafkaSubscription

        subscription = KafkaSubscription(
            self.bootstrap, topics, group, consumer_options=self.consumer_options
        )
        await subscription.start()
        return subscription

    async def close(self) -> None:
        await self.kafka.stop()


class GatedStore:
    """Wraps a store so creates wait at a gate: holds a record's effects open mid-flight."""

    def __init__(self, inner: SnapshotStore) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.reached = asyncio.Event()

    async def create(self, key: str, data: bytes) -> str:
        self.reached.set()
        await self.gate.wait()
        return await self.inner.create(key, data)

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        return await self.inner.replace(key, data, etag)

    async def get(self, key: str) -> Any:
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)


def time_source(clock: Clock | TimeSource | Callable[[], datetime] | None) -> TimeSource:
    """A test's Clock moves every timer (lease renewals, claim waits, sweep, backoff); a bare
    function sets only the wall time; none is the real clock."""
    match clock:
        case None:
            return REAL_CLOCK
        case Clock():
            return clock.injected()
        case TimeSource():
            return clock
        case _:
            return TimeSource(now=clock)


@dataclass
class RunningWorker:
    worker: Worker
    subscription: Subscription
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Stop as a deployment would: no more records, in-flight ones finish and are
        committed (within the worker's grace period), then the group is left."""
        self.worker.stop()
        try:
            async with asyncio.timeout(30):
                await asyncio.shield(self.task)
        except TimeoutError:
            self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.subscription.close()

    async def kill(self) -> None:
        """Stop as a crash would: in-flight records are abandoned, nothing more is committed."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.subscription.close()


@dataclass
class Harness:
    backend: Backend
    ai: Intermission
    group: str = field(default_factory=lambda: f"workers-{uuid.uuid4().hex[:6]}")
    approvals: list[InterruptRaised] = field(default_factory=list)
    results: list[ResultEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _watchers: list[tuple[Subscription, asyncio.Task[None]]] = field(default_factory=list)

    def runs(
        self,
        *,
        clock: Clock | TimeSource | Callable[[], datetime] | None = None,
        ai: Intermission | None = None,
        store: SnapshotStore | None = None,
        publisher: Publisher | None = None,
        seal_key: bytes | KeyRing | None = b"test-key",
        tokens: ResumeTokens | None = None,
        answer_keys: AnswerKeys | None = None,
        compression: Compression = "none",
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        run_index: bool = False,
    ) -> Runs:
        """A fresh Runs: what a new worker process would build. ``clock``: a test's Clock runs
        every timer of the worker (`time_source`)."""
        return Runs(
            ai=ai or self.ai,
            store=store or self.backend.store,
            publisher=publisher or self.backend.publisher,
            topics=self.backend.topics,
            sealer=Sealer(seal_key, compression=compression),
            tokens=tokens,
            answer_keys=answer_keys,
            owner=owner,
            lease=lease,
            run_index=run_index,
            clock=time_source(clock),
        )

    async def start_worker(
        self,
        *,
        max_record_bytes: int = 64 * 1024,
        shutdown_grace: float = 10.0,
        reply_topics: tuple[str, ...] = (),
        retry_delay: float = 0.01,
        max_backoff: float = 0.5,
        sweep_interval: float | None = None,
        **runs_options: Any,
    ) -> RunningWorker:
        t = self.backend.topics
        subscription = await self.backend.subscribe([t.requests, t.resumes], self.group)
        worker = Worker(
            self.runs(**runs_options),
            retry_delay=retry_delay,
            max_backoff=max_backoff,
            sweep_interval=sweep_interval,
            max_record_bytes=max_record_bytes,
            shutdown_grace=shutdown_grace,
            reply_topics=reply_topics,
        )
        return RunningWorker(worker, subscription, asyncio.create_task(worker.run(subscription)))

    async def watch(self) -> None:
        t = self.backend.topics
        for topic, decode, sink in [
            (t.approvals, decode_approval, self.approvals),
            (t.results, decode_result, self.results),
            (t.dead_letter, decode_dead_letter, self.dead_letters),
        ]:
            subscription = await self.backend.subscribe([topic], f"watch-{uuid.uuid4().hex[:6]}")
            self._watchers.append(
                (subscription, asyncio.create_task(self._collect(subscription, decode, sink)))
            )

    async def _collect(self, subscription: Subscription, decode: Any, sink: list[Any]) -> None:
        async for record in subscription.records():
            event = decode(record.value)
            async with self._changed:
                sink.append(event)
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], within: float = 30.0) -> Any:
        async with asyncio.timeout(within), self._changed:
            await self._changed.wait_for(predicate)
        return predicate()

    async def approval(self, run_id: str, version: int = 1, *, answered: int = 0) -> InterruptRaised:
        def found() -> InterruptRaised | None:
            for event in self.approvals:
                if (
                    event.run_id == run_id
                    and event.snapshot.version == version
                    and len(event.answered) == answered
                ):
                    return event
            return None

        event: InterruptRaised = await self.wait_for(found)
        return event

    async def result(self, run_id: str, kind: type, count: int = 1, *, within: float = 30.0) -> Any:
        def found() -> Any:
            matches = [e for e in self.results if e.run_id == run_id and isinstance(e, kind)]
            return matches if len(matches) >= count else None

        matches = await self.wait_for(found, within=within)
        return matches[count - 1]

    async def submit(self, run_id: str, text: str, **fields: Any) -> GenerateRequest:
        request = GenerateRequest(
            run_id=run_id,
            idempotency_key=fields.pop("idempotency_key", run_id),
            messages=[Message(role="user", content=[TextPart(text)])],
            **fields,
        )
        await self.backend.publisher.publish(self.backend.topics.requests, run_id, encode(request))
        return request

    async def send(self, topic: str, run_id: str, event: Any) -> None:
        await self.backend.publisher.publish(topic, run_id, encode(event))

    async def approved_transfer(self, run_id: str) -> InterruptRaised:
        """A transferMoney run, paused and approved, to its RunCompleted (a worker must run);
        the pause's InterruptRaised."""
        await self.submit(run_id, "transfer", tools=["transferMoney"])
        raised = await self.approval(run_id)
        await self.send(self.backend.topics.resumes, run_id, approve(run_id, raised.interrupts[0].ref))
        await self.result(run_id, RunCompleted)
        return raised

    async def close(self) -> None:
        for subscription, task in self._watchers:
            await subscription.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.backend.close()


def approve(run_id: str, ref: str, resume_id: str = "r1", **fields: Any) -> ResumeRequested:
    """alice's restart of ``ref`` in pause 1 with ``{"status": "APPROVED"}``."""
    return ResumeRequested(
        run_id=run_id,
        resume_id=resume_id,
        snapshot_version=1,
        restart=[RestartAnswer(ref=ref, resumed={"status": "APPROVED"})],
        answered_by="alice",
        **fields,
    )
