"""One subscription's lane: its own consumer group on the topics, its own deliveries, its own
commits. A receiver that is down holds back only its own lane: the others keep delivering.

Delivery is at least once. An event's offset is committed only once the event is delivered
(2xx) or dead-lettered, and every event before it on its partition too. Memory stays bounded:
past ``max_pending`` open events the lane pauses its partitions (the consumer keeps polling,
so it stays in its group) and resumes them once half are done.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Protocol, assert_never

from intermission_schemas import InterruptRaised

from ..errors import LogUnavailableError, UnpublishableError
from ..service.ports import Publisher, Record
from .commits import CommitTracker, Ticket
from .deadletters import WebhookDeadLetter, publish_dead_letter
from .delivery import Delivered, Permanent, Retryable, Sender
from .events import HookEvent, decode_hook_event
from .filters import matches
from .metrics import WebhookMetrics
from .payload import body, webhook_id
from .retry import RetryPolicy
from .subscriptions import Subscription

__all__ = ["Lane", "LaneSource"]

log = logging.getLogger("intermission.webhooks")

_DEAD_LETTER_RETRY_SECONDS = 2.0


class LaneSource(Protocol):
    def records(self) -> AsyncIterator[Record]: ...
    async def commit(self, record: Record) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...


class Lane:
    def __init__(
        self,
        subscription: Subscription,
        *,
        approvals_topic: str,
        sender: Sender,
        policy: RetryPolicy,
        publisher: Publisher,
        dead_letter_topic: str,
        metrics: WebhookMetrics,
        inbox_url: str | None,
        max_pending: int,
        uniform: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.subscription = subscription
        self._approvals = approvals_topic
        self._sender = sender
        self._policy = policy
        self._publisher = publisher
        self._dead_letter_topic = dead_letter_topic
        self._metrics = metrics
        self._inbox_url = inbox_url
        self._max_pending = max_pending
        self._uniform = uniform
        self._clock = clock
        self._tracker = CommitTracker()
        self._tasks: set[asyncio.Task[None]] = set()
        self._paused = False
        self._source: LaneSource | None = None
        self._commit_lock = asyncio.Lock()
        self._committed: dict[tuple[str, int], int] = {}

    async def run(self, source: LaneSource) -> None:
        """Deliver what ``source`` yields until it ends; deliveries still open are cancelled
        (and their events, uncommitted, come again to whoever reads the partition next)."""
        self._source = source
        try:
            async for record in source.records():
                self._take(record)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def forget(self, partitions: frozenset[tuple[str, int]]) -> None:
        self._tracker.forget(partitions)
        for partition in partitions:
            self._committed.pop(partition, None)
        self._gauge()

    def _take(self, record: Record) -> None:
        ticket = self._tracker.take(record)
        event = decode_hook_event(record.value, approvals=record.topic == self._approvals)
        if event is None or not matches(self.subscription, event):
            self._finish(ticket)
            return
        task = asyncio.create_task(self._deliver(ticket, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._gauge()
        if self._tracker.open >= self._max_pending and not self._paused and self._source is not None:
            log.info(
                "webhook %s: %d events open, pausing its partitions", self.subscription.id, self._tracker.open
            )
            self._paused = True
            self._source.pause()

    def _finish(self, ticket: Ticket) -> None:
        committable = self._tracker.finish(ticket)
        self._gauge()
        if self._paused and self._tracker.open <= self._max_pending // 2 and self._source is not None:
            self._paused = False
            self._source.resume()
        if committable is not None and self._source is not None:
            task = asyncio.create_task(self._commit(committable))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _commit(self, record: Record) -> None:
        assert self._source is not None
        partition = (record.topic, record.partition)
        async with self._commit_lock:  # one at a time, and never back to an older offset
            if self._committed.get(partition, -1) >= record.offset:
                return
            try:
                await self._source.commit(record)
            except LogUnavailableError as exc:
                # A later commit covers this one; until then a restart re-delivers (same ids).
                log.warning("webhook %s: commit failed: %s", self.subscription.id, exc)
                return
            self._committed[partition] = record.offset

    def _gauge(self) -> None:
        self._metrics.pending.labels(self.subscription.id).set(self._tracker.open)

    async def _deliver(self, ticket: Ticket, event: HookEvent) -> None:
        sub = self.subscription.id
        msg_id = webhook_id(sub, event)
        at = event.created_at if isinstance(event, InterruptRaised) else datetime.now(UTC)
        payload = body(event, at, self._inbox_url)
        first = self._clock()
        first_at = datetime.now(UTC)
        failures = 0
        while True:
            started = self._clock()
            outcome = await self._sender.attempt(self.subscription, msg_id, payload)
            self._metrics.duration.labels(sub).observe(self._clock() - started)
            match outcome:
                case Delivered():
                    self._metrics.deliveries.labels(sub).inc()
                    break
                case Permanent(error=error):
                    self._metrics.failures.labels(sub, "permanent").inc()
                    await self._dead_letter(ticket, event, msg_id, at, failures + 1, error, first_at)
                    break
                case Retryable(error=error, retry_after=retry_after):
                    self._metrics.failures.labels(sub, "retryable").inc()
                    failures += 1
                    delay = self._policy.delay(failures, self._uniform, retry_after)
                    if self._policy.gives_up(self._clock() - first, delay):
                        await self._dead_letter(ticket, event, msg_id, at, failures, error, first_at)
                        break
                    log.debug("webhook %s %s: %s; again in %.1f s", sub, msg_id, error, delay)
                    await asyncio.sleep(delay)
                    self._metrics.retries.labels(sub).inc()
                case _:
                    assert_never(outcome)
        self._finish(ticket)

    async def _dead_letter(
        self,
        ticket: Ticket,
        event: HookEvent,
        msg_id: str,
        at: datetime,
        attempts: int,
        error: str,
        first_at: datetime,
    ) -> None:
        record = ticket.record
        letter = WebhookDeadLetter(
            subscription=self.subscription.id,
            webhook_id=msg_id,
            event_type=type(event).__name__,
            run_id=event.run_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            value=record.value,
            event_at=at,
            attempts=attempts,
            last_error=error,
            first_attempt_at=first_at,
        )
        log.warning(
            "webhook %s %s for run %s dead-lettered: %s", self.subscription.id, msg_id, event.run_id, error
        )
        # The offset is committed only after the letter is durable: Kafka being away is an
        # outage to wait out, never a reason to drop the event.
        while True:
            try:
                await publish_dead_letter(self._publisher, self._dead_letter_topic, letter)
                break
            except LogUnavailableError as exc:
                log.warning("webhook dead letter not published yet: %s", exc)
                await asyncio.sleep(_DEAD_LETTER_RETRY_SECONDS)
            except UnpublishableError:
                log.exception("the webhook dead-letter topic %r refuses letters", self._dead_letter_topic)
                await asyncio.sleep(_DEAD_LETTER_RETRY_SECONDS * 15)
        self._metrics.dead_letters.labels(self.subscription.id).inc()
