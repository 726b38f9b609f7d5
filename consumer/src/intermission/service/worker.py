"""The worker loop: take records, hand them to Runs, commit once every effect is durable.

Records of one run (one key) are handled in order; records of different runs run concurrently,
up to ``max_in_flight``. A partition's offset is committed only up to the first record that is
not finished, so a crash re-delivers anything whose effects may be incomplete (at-least-once),
and Runs makes every effect idempotent.

What a record's handling can meet, and what follows:

- bad input (bytes that do not decode, an unknown event type or version, invalid fields, an
  oversized record): a dead letter with a typed reason, and the partition moves on;
- a stored snapshot that fails its seal or is not the step it claims to be: ``RunFailed`` with
  code ``tampered`` and a dead letter; no tool runs;
- an outcome of the record that Kafka refuses for what it is (its ``replyTo`` names a topic that
  does not exist, is not a valid name or may not be written; it is too large): a dead letter
  (``unpublishable``, ``oversized``), and the partition moves on;
- an unavailable store or log (unreachable brokers, no answer in time): not the record's fault.
  The record is retried with capped exponential backoff and jitter for as long as it takes, no
  new records are taken meanwhile, and nothing is committed past it;
- any other failure (a bug): retried; after ``attempts`` tries while every dependency is up,
  the record is dead-lettered as ``poison``.

Stopping (`stop`) ends fetching, lets records in flight finish within ``shutdown_grace``
seconds, and waits for their commits; whatever is still running then is abandoned, uncommitted,
for the partition's next owner.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import assert_never

from intermission_schemas import (
    DeadLetter,
    DeadLetterReason,
    EventDecodeError,
    GenerateRequest,
    ResumeRequested,
    RunFailed,
    Topics,
    decode_request,
    decode_resume,
    encode,
    reply_topic_problem,
)

from ..errors import RecordTooLargeError, TamperedSnapshotError, UnavailableError, UnpublishableError
from .health import Health
from .observe.events import RecordDeadLettered, RecordHandled, RecordOutcome, RecordTaken, RunFailure
from .observe.observer import NO_OBSERVER, Observer
from .ports import RECORD_FRAMING_BYTES, Publisher, Record, Subscription
from .runs import Runs
from .tracing import mark_failed, processing

log = logging.getLogger("intermission.worker")

_DETAIL_LIMIT = 4096
_BACKOFF_CAP_S = 30.0


class Worker:
    def __init__(
        self,
        runs: Runs,
        *,
        max_in_flight: int = 64,
        max_record_bytes: int = 1_048_576,
        attempts: int = 3,
        retry_delay: float = 0.5,
        max_backoff: float = _BACKOFF_CAP_S,
        sweep_interval: float | None = None,
        shutdown_grace: float = 25.0,
        health: Health | None = None,
        observer: Observer = NO_OBSERVER,
        reply_topics: tuple[str, ...] = (),
    ) -> None:
        self.runs = runs
        self._clock = runs.clock  # the sweep and the backoff wait on the runs' time
        self.topics: Topics = runs.topics
        self.publisher: Publisher = runs.publisher
        self.observer = observer
        self.health = health or Health(observer)
        runs.report_outages(self.health)  # a journal write waiting out an outage in place
        self._slots = asyncio.Semaphore(max_in_flight)
        # Incoming records over this are dead-lettered. A dead letter is kept smaller by the
        # record format's framing, so it fits any topic that takes such records.
        self._max_record_bytes = max_record_bytes
        self._max_dead_letter_bytes = max(1024, max_record_bytes - RECORD_FRAMING_BYTES)
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._max_backoff = max_backoff
        self._sweep_interval = sweep_interval
        self._shutdown_grace = shutdown_grace
        self._reply_topics = reply_topics  # patterns a request's replyTo must match (none: any)
        self._stopping = asyncio.Event()
        # Records waiting out an outage. New records are held only while one is: it is the
        # probe whose success says the dependency is back. With none (the outage was seen by
        # the sweep, or its record was revoked), the next record takes that role.
        self._waiting_out: set[Record] = set()
        self._may_take = asyncio.Event()
        self._may_take.set()
        self._lanes: dict[tuple[str, int], dict[int, asyncio.Task[bool]]] = {}
        self._commits: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        """Stop taking records; `run` returns once those in flight are done (or the grace ends)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def idle(self) -> bool:
        """No record in flight: nothing is touching the dependencies on this worker's behalf."""
        return not self._in_flight()

    async def run(self, subscription: Subscription) -> None:
        """Consume until `stop`, the subscription closes, or this task is cancelled."""
        tails: dict[bytes | None, asyncio.Task[bool]] = {}
        sweeper = asyncio.create_task(self._sweep_forever()) if self._sweep_interval else None
        register = getattr(subscription, "on_revoked", None)
        if register is not None:
            register(functools.partial(self._revoked, subscription=subscription))
        try:
            async for record in self._until_stopped(subscription.records()):
                previous = tails.get(record.key)
                task = asyncio.create_task(self._after(previous, record))
                tails[record.key] = task
                self._lanes.setdefault((record.topic, record.partition), {})[record.offset] = task
                task.add_done_callback(
                    functools.partial(self._finished, record=record, tails=tails, subscription=subscription)
                )
        except asyncio.CancelledError:
            # Stopped hard: abandon in-flight records. Their offsets are not committed, so the
            # partition's next owner handles them again, and every effect is idempotent.
            for task in self._in_flight():
                task.cancel()
            raise
        finally:
            if sweeper is not None:
                sweeper.cancel()
        await self._drain()

    async def _until_stopped(self, records: AsyncIterator[Record]) -> AsyncIterator[Record]:
        """Records while not stopping, each taken only when a slot is free and no record is
        waiting out an outage: meanwhile, fetched records wait unprocessed and uncommitted."""
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                # Open gates are passed without a task or a wait each: this runs once per record,
                # on the path of every cycle.
                if not self._may_take.is_set() and not await self._unless_stopping(
                    self._may_take.wait(), stopping
                ):
                    return
                if self._slots.locked():
                    if not await self._unless_stopping(self._slots.acquire(), stopping, takes_slot=True):
                        return
                else:
                    await self._slots.acquire()  # a free slot is taken at once, without suspending
                fetch = asyncio.ensure_future(anext(records))
                await asyncio.wait([fetch, stopping], return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()  # the record, if one was on its way, stays uncommitted
                    fetch.add_done_callback(_consume_outcome)
                    self._slots.release()
                    return
                try:
                    record = fetch.result()
                except StopAsyncIteration:
                    self._slots.release()
                    return
                yield record
        finally:
            stopping.cancel()

    async def _unless_stopping(
        self, gate: Awaitable[object], stopping: asyncio.Task[bool], *, takes_slot: bool = False
    ) -> bool:
        """Wait for ``gate``; False (and nothing held) if stopping comes first."""
        waiting = asyncio.ensure_future(gate)
        await asyncio.wait([waiting, stopping], return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            return False
        if self._stopping.is_set():
            if takes_slot:  # the slot was taken: give it back
                self._slots.release()
            return False
        return True

    async def _drain(self) -> None:
        """Let records in flight finish (within the grace period), then wait for their commits."""
        pending = self._in_flight()
        if pending:
            log.info("waiting up to %.0f s for %d record(s) in flight", self._shutdown_grace, len(pending))
            _, abandoned = await asyncio.wait(pending, timeout=self._shutdown_grace)
            for task in abandoned:
                task.cancel()
            if abandoned:
                log.warning(
                    "abandoned %d record(s) after the grace period; they will be redelivered", len(abandoned)
                )
                await asyncio.gather(*abandoned, return_exceptions=True)
        if self._commits:
            await asyncio.gather(*list(self._commits), return_exceptions=True)

    def _in_flight(self) -> list[asyncio.Task[bool]]:
        return [t for lane in self._lanes.values() for t in lane.values() if not t.done()]

    async def _revoked(self, partitions: frozenset[tuple[str, int]], subscription: Subscription) -> None:
        """A rebalance takes these partitions: finish what is in flight on them (briefly), and
        commit it while this member still may. Anything not done by then is abandoned to the
        next owner, which finds the claims and the journal."""
        pending = [t for key in partitions for t in self._lanes.get(key, {}).values() if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=min(self._shutdown_grace, 10.0))
        if self._commits:
            await asyncio.gather(*list(self._commits), return_exceptions=True)
        for key in partitions:
            lane = self._lanes.pop(key, {})
            for task in lane.values():
                if not task.done():
                    task.cancel()

    async def _sweep_forever(self) -> None:
        """Expire overdue pauses nobody answered. Every worker sweeps; conditional writes make
        sure each pause expires once."""
        assert self._sweep_interval is not None
        while True:
            await self._clock.sleep(self._sweep_interval)
            try:
                swept = await self.runs.sweep_expired()
            except UnavailableError as exc:
                self.health.failed(exc)
            except Exception:
                log.exception("expiry sweep failed; trying again in %ss", self._sweep_interval)
            else:
                if swept:
                    log.info("expired %d pause(s)", swept)

    async def _after(self, previous: asyncio.Task[bool] | None, record: Record) -> bool:
        self.observer.observe(RecordTaken(topic=record.topic))
        started = time.perf_counter()
        outcome: RecordOutcome = "abandoned"  # unless handle returns: cancelled
        try:
            if previous is not None:
                await asyncio.wait([previous])
            outcome = await self.handle(record)
        finally:
            self._slots.release()
            seconds = time.perf_counter() - started
            self.observer.observe(RecordHandled(topic=record.topic, outcome=outcome, seconds=seconds))
        return True

    def _finished(
        self,
        task: asyncio.Task[bool],
        record: Record,
        tails: dict[bytes | None, asyncio.Task[bool]],
        subscription: Subscription,
    ) -> None:
        if tails.get(record.key) is task:
            del tails[record.key]
        lane = self._lanes.get((record.topic, record.partition))
        if lane is None:
            return  # the partition was revoked
        done_upto: int | None = None
        for offset in sorted(lane):
            done = lane[offset]
            # A record that was cancelled or failed is a barrier: its effects may be missing,
            # so nothing at or after it is committed until it is delivered again.
            if not done.done() or done.cancelled() or done.exception() is not None:
                break
            done_upto = offset
            del lane[offset]
        if done_upto is not None:
            mark = Record(
                topic=record.topic, partition=record.partition, offset=done_upto, key=None, value=b""
            )
            commit = asyncio.create_task(self._commit(subscription, mark))
            self._commits.add(commit)
            commit.add_done_callback(self._commits.discard)

    @staticmethod
    async def _commit(subscription: Subscription, mark: Record) -> None:
        try:
            await subscription.commit(mark)
        except Exception as exc:
            # A later commit covers this one (offsets are cumulative); at worst the records
            # are delivered again, never lost.
            log.warning("commit of %s[%d]@%d failed: %s", mark.topic, mark.partition, mark.offset, exc)

    # -- one record -------------------------------------------------------------------------

    async def handle(self, record: Record) -> RecordOutcome:
        """Every effect of ``record``, durable when this returns. Never raises but when
        cancelled: bad input and tampering get their outcome, outages are waited out."""
        with processing(record):  # a span, child of the trace context in the record's headers
            if len(record.value) > self._max_record_bytes:
                detail = f"{len(record.value)} bytes, over the limit of {self._max_record_bytes}"
                await self._until_done(record, lambda: self._dead_letter(record, "oversized", detail))
                return "dead_letter"
            return await self._until_done(record, lambda: self._dispatch(record))

    async def _until_done(self, record: Record, work: Callable[[], Awaitable[None]]) -> RecordOutcome:
        try:
            return await self._retrying(record, work)
        finally:
            self._waiting_out.discard(record)
            self._update_gate()

    def _update_gate(self) -> None:
        if self.health.healthy or not self._waiting_out:
            self._may_take.set()
        else:
            self._may_take.clear()

    async def _retrying(self, record: Record, work: Callable[[], Awaitable[None]]) -> RecordOutcome:
        failures = 0
        outcome: RecordOutcome = "done"  # until work becomes the record's own outcome
        settled = False  # work is now the record's own outcome: a dead letter, a tampered run
        while True:
            try:
                await work()
                self.health.succeeded()
                return outcome
            except UnavailableError as exc:
                self.health.failed(exc)
                self._waiting_out.add(record)
                self._update_gate()
                failures = 0
            except Exception as exc:
                settles = self._outcome_for(record, exc) if self._may_settle(exc, settled) else None
                if settles is not None:
                    outcome, work = settles
                    settled = True
                    continue
                failures += 1
                if not settled and failures >= self._attempts and self.health.healthy:
                    log.exception("record %s failed %d times; dead-lettering", _where(record), failures)
                    detail = f"{type(exc).__name__}: {exc}"
                    work, settled = functools.partial(self._dead_letter, record, "poison", detail), True
                    outcome = "dead_letter"
                    continue
                log.warning("record %s failed (attempt %d): %s", _where(record), failures, exc)
            await self._clock.sleep(self._backoff(failures))

    def _outcome_for(
        self, record: Record, exc: Exception
    ) -> tuple[RecordOutcome, Callable[[], Awaitable[None]]] | None:
        """What settles a record that failed because of what it is, or None for other failures."""
        match exc:
            case EventDecodeError():
                return "dead_letter", functools.partial(self._dead_letter, record, exc.reason, exc.detail)
            case TamperedSnapshotError():
                log.error("record %s: %s; no tool runs", _where(record), exc)
                return "tampered", functools.partial(self._tampered, record, str(exc))
            case RecordTooLargeError():
                # An outcome of this record does not fit the log: the record's content is at
                # fault, and no retry makes it smaller.
                return "dead_letter", functools.partial(self._dead_letter, record, "oversized", str(exc))
            case UnpublishableError():
                # The brokers answered and refuse where an outcome of this record goes (its
                # replyTo): retried, it would hold the partition forever.
                log.error("record %s: %s; dead-lettering", _where(record), exc)
                return "dead_letter", functools.partial(self._dead_letter, record, "unpublishable", str(exc))
            case _:
                return None

    def _may_settle(self, exc: Exception, settled: bool) -> bool:
        """Whether ``exc`` may give the record its outcome. Once it has one, only a refused
        publish of that outcome (a tampered run's RunFailed to its replyTo) changes it to a dead
        letter; a refused dead letter is the dead-letter topic's fault, and is retried."""
        if not settled:
            return True
        return isinstance(exc, UnpublishableError) and exc.topic != self.topics.dead_letter

    def _backoff(self, failures: int) -> float:
        attempt = max(failures, self._outage_attempts())
        delay = min(self._max_backoff, self._retry_delay * 2.0 ** min(attempt, 16))
        return delay * random.uniform(0.5, 1.0)

    def _outage_attempts(self) -> int:
        # While a dependency is down, every waiting record backs off as if it had failed as
        # often as the outage is long, so a long outage costs few requests.
        since = self.health.down_since()
        if not since:
            return 0
        longest = time.monotonic() - min(since.values())
        return int(longest / max(self._retry_delay, 0.01)).bit_length()

    async def _dispatch(self, record: Record) -> None:
        match self._decode(record):
            case GenerateRequest() as request:
                await self.runs.on_request(request)
            case ResumeRequested() as resume:
                await self.runs.on_resume(resume)
            case never:
                assert_never(never)

    def _decode(self, record: Record) -> GenerateRequest | ResumeRequested:
        if record.topic == self.topics.requests:
            request = decode_request(record.value)
            if request.reply_to is not None:
                problem = reply_topic_problem(request.reply_to, self.topics, self._reply_topics)
                if problem is not None:
                    raise EventDecodeError("invalid_fields", problem)
            return request
        if record.topic == self.topics.resumes:
            return decode_resume(record.value)
        raise EventDecodeError("unknown_event", f"the worker does not consume {record.topic!r}")

    async def _tampered(self, record: Record, detail: str) -> None:
        event = self._decode(record)
        reply_to = event.reply_to if isinstance(event, GenerateRequest) else None
        # Through the runs, not published from here: the failure must close the run (its result
        # object) before it is announced, or a later answer could still complete it.
        ended = await self.runs.on_tampered(event.run_id, reply_to, detail[:_DETAIL_LIMIT])
        if isinstance(ended, RunFailed) and ended.code == "tampered":
            self.observer.observe(
                RunFailure(run_id=event.run_id, snapshot_version=None, code="tampered", message=ended.message)
            )
        await self._dead_letter(record, "tampered", detail)

    async def _dead_letter(self, record: Record, reason: DeadLetterReason, detail: str) -> None:
        letter = DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            reason=reason,
            detail=detail[:_DETAIL_LIMIT],
            value_size=len(record.value),
        )
        data = encode(letter)
        if len(data) > self._max_dead_letter_bytes:
            # The copy would not fit the topic: keep a prefix and the position of the original.
            room = self._max_dead_letter_bytes - (len(data) - _base64_size(len(record.value))) - 256
            kept = max(0, room * 3 // 4)
            letter = DeadLetter(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value[:kept],
                reason=reason,
                detail=letter.detail,
                truncated=True,
                value_size=len(record.value),
            )
            data = encode(letter)
        mark_failed(f"dead-lettered: {reason}")
        key = record.key.decode("utf-8", "replace") if record.key else ""
        await self.publisher.publish(self.topics.dead_letter, key, data)
        self.observer.observe(
            RecordDeadLettered(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=key,
                reason=reason,
                detail=detail,
            )
        )


def _consume_outcome(task: asyncio.Future[Record]) -> None:
    if not task.cancelled():
        task.exception()  # an iterator ended while being cancelled: nothing to report


def _base64_size(raw: int) -> int:
    return 4 * ((raw + 2) // 3)


def _where(record: Record) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
