"""The worker loop: take records, hand them to Runs, commit once every effect is durable.

Records of one run (one key) are handled in order; records of different runs run concurrently,
up to ``max_in_flight``. A partition's offset is committed only up to the first record that is
not finished, so a crash re-delivers anything whose effects may be incomplete (at-least-once),
and Runs makes every effect idempotent.

Bad input never stops a partition: bytes that do not decode, unknown event types, invalid
fields and oversized records go to the dead-letter topic whole, with their position. A record
whose handling keeps failing (a bug, a store outage) is retried with backoff, then dead-lettered
as ``poison`` so the partition moves on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable
from typing import Literal, assert_never

from intermission_schemas import (
    DeadLetter,
    EventDecodeError,
    GenerateRequest,
    ResumeRequested,
    Topics,
    decode_request,
    decode_resume,
    encode,
)

from .ports import Publisher, Record, Subscription
from .runs import Runs

log = logging.getLogger("intermission.worker")

DeadLetterReason = Literal["undecodable", "unknown_event", "invalid_fields", "oversized", "poison"]


class Worker:
    def __init__(
        self,
        runs: Runs,
        *,
        max_in_flight: int = 64,
        max_record_bytes: int = 1_048_576,
        attempts: int = 3,
        retry_delay: float = 0.5,
        sweep_interval: float | None = None,
    ) -> None:
        self.runs = runs
        self.topics: Topics = runs.topics
        self.publisher: Publisher = runs.publisher
        self._slots = asyncio.Semaphore(max_in_flight)
        self._max_record_bytes = max_record_bytes
        self._attempts = attempts
        self._retry_delay = retry_delay
        self._sweep_interval = sweep_interval

    async def run(self, subscription: Subscription) -> None:
        """Consume until the subscription closes or this task is cancelled."""
        tails: dict[bytes | None, asyncio.Task[None]] = {}
        in_flight: dict[tuple[str, int], dict[int, asyncio.Task[None]]] = {}
        sweeper = asyncio.create_task(self._sweep_forever()) if self._sweep_interval else None
        try:
            async for record in subscription.records():
                await self._slots.acquire()
                previous = tails.get(record.key)
                task = asyncio.create_task(self._after(previous, record))
                tails[record.key] = task
                lane = in_flight.setdefault((record.topic, record.partition), {})
                lane[record.offset] = task
                task.add_done_callback(
                    functools.partial(
                        self._finished,
                        record=record,
                        tails=tails,
                        in_flight=in_flight,
                        subscription=subscription,
                    )
                )
        except asyncio.CancelledError:
            # Stopped hard: abandon in-flight records. Their offsets are not committed, so the
            # partition's next owner handles them again, and every effect is idempotent.
            for lane in in_flight.values():
                for task in lane.values():
                    task.cancel()
            raise
        finally:
            if sweeper is not None:
                sweeper.cancel()
            # Closed cleanly: let what is in flight finish, so its offsets can be committed.
            pending = [t for lane in in_flight.values() for t in lane.values()]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _sweep_forever(self) -> None:
        """Expire overdue pauses nobody answered. Every worker sweeps; conditional writes make
        sure each pause expires once."""
        assert self._sweep_interval is not None
        while True:
            await asyncio.sleep(self._sweep_interval)
            try:
                swept = await self.runs.sweep_expired()
            except Exception:
                log.exception("expiry sweep failed; trying again in %ss", self._sweep_interval)
            else:
                if swept:
                    log.info("expired %d pause(s)", swept)

    async def _after(self, previous: asyncio.Task[None] | None, record: Record) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await self.handle(record)
        finally:
            self._slots.release()

    def _finished(
        self,
        task: asyncio.Task[None],
        record: Record,
        tails: dict[bytes | None, asyncio.Task[None]],
        in_flight: dict[tuple[str, int], dict[int, asyncio.Task[None]]],
        subscription: Subscription,
    ) -> None:
        if tails.get(record.key) is task:
            del tails[record.key]
        if task.cancelled() or task.exception() is not None:
            return  # never commit past a record whose effects may be missing
        lane = in_flight[(record.topic, record.partition)]
        done_upto: Record | None = None
        for offset in sorted(lane):
            if not lane[offset].done():
                break
            done_upto = Record(
                topic=record.topic, partition=record.partition, offset=offset, key=None, value=b""
            )
            del lane[offset]
        if done_upto is not None:
            _spawn(subscription.commit(done_upto))

    async def handle(self, record: Record) -> None:
        """Every effect of ``record``, durable when this returns. Never raises for bad input."""
        if len(record.value) > self._max_record_bytes:
            await self._dead_letter(record, "oversized", f"{len(record.value)} bytes")
            return
        for attempt in range(1, self._attempts + 1):
            try:
                await self._dispatch(record)
                return
            except EventDecodeError as exc:
                await self._dead_letter(record, exc.reason, exc.detail)
                return
            except Exception as exc:
                if attempt == self._attempts:
                    log.exception(
                        "record %s/%s@%s failed; dead-lettering",
                        record.topic,
                        record.partition,
                        record.offset,
                    )
                    await self._dead_letter(record, "poison", f"{type(exc).__name__}: {exc}")
                    return
                log.warning("record %s@%s failed (attempt %s): %s", record.topic, record.offset, attempt, exc)
                await asyncio.sleep(self._retry_delay * 2 ** (attempt - 1))

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
            return decode_request(record.value)
        if record.topic == self.topics.resumes:
            return decode_resume(record.value)
        raise EventDecodeError("unknown_event", f"the worker does not consume {record.topic!r}")

    async def _dead_letter(self, record: Record, reason: DeadLetterReason, detail: str) -> None:
        letter = DeadLetter(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            reason=reason,
            detail=detail,
        )
        key = record.key.decode("utf-8", "replace") if record.key else ""
        await self.publisher.publish(self.topics.dead_letter, key, encode(letter))


_background: set[asyncio.Task[None]] = set()


def _spawn(work: Awaitable[None]) -> None:
    async def run() -> None:
        try:
            await work
        except Exception:
            log.exception("offset commit failed; the records will be delivered again")

    task = asyncio.create_task(run())
    _background.add(task)
    task.add_done_callback(_background.discard)
