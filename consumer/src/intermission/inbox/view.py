"""The inbox's picture of every run, folded from the topics themselves.

Design: the view is a pure function of the requests, approvals, resumes and results topics,
read from their beginning through the producer SDK's `Transport` with no consumer group and
nothing committed. So an inbox that restarts rebuilds the same view, and several inboxes each
build the same view on their own: there is no inbox state to share or lose. A run's pending
interrupts are those of its newest InterruptRaised (highest snapshot version, latest by log
order within a version, which carries the refs already answered) while no result ended the run
and the pause has not expired. The worker stays the authority: an answer the view let through
may still be rejected, and the ResumeRejected is folded in like any other event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from intermission_producer import Transport
from intermission_schemas import (
    DeadLetter,
    EventDecodeError,
    GenerateRequest,
    InterruptRaised,
    PendingInterrupt,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    Topics,
    decode_approval,
    decode_dead_letter,
    decode_request,
    decode_result,
    decode_resume,
)

__all__ = ["Event", "PendingView", "RunState", "Status"]

log = logging.getLogger("intermission.inbox")

Status = Literal["running", "pending", "completed", "failed", "expired"]
Event = GenerateRequest | InterruptRaised | ResumeRequested | RunCompleted | RunFailed | ResumeRejected


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class RunState:
    run_id: str
    _requests_topic: str = "intermission.requests"
    request: GenerateRequest | None = None
    raised: InterruptRaised | None = None  # the newest pause
    result: RunCompleted | RunFailed | None = None
    resumes: list[ResumeRequested] = field(default_factory=list)
    rejections: list[ResumeRejected] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # in the order this inbox read them
    dead_letters: list[DeadLetter] = field(default_factory=list)  # records of this run refused

    def status(self, now: datetime) -> Status:
        if isinstance(self.result, RunCompleted):
            return "completed"
        if isinstance(self.result, RunFailed):
            return "expired" if self.result.code == "expired" else "failed"
        if self.raised is None and any(d.topic == self._requests_topic for d in self.dead_letters):
            return "failed"  # its request never ran: the worker dead-lettered it
        if self.raised is None:
            return "running"
        if self.raised.expires_at is not None and _aware(self.raised.expires_at) <= now:
            return "expired"
        return "pending" if self.open_interrupts() else "running"

    def open_interrupts(self) -> list[PendingInterrupt]:
        """The newest pause's refs nobody answered yet (while the run has no result)."""
        if self.raised is None or self.result is not None:
            return []
        return [i for i in self.raised.interrupts if i.ref not in self.raised.answered]

    def rejection_of(self, resume_id: str) -> ResumeRejected | None:
        return next((r for r in self.rejections if r.resume_id == resume_id), None)

    def apply(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, GenerateRequest):
            self.request = self.request or event
        elif isinstance(event, InterruptRaised):
            # A lower version is an old pause republished (a redelivery): never go back.
            if self.raised is None or event.snapshot.version >= self.raised.snapshot.version:
                self.raised = event
        elif isinstance(event, ResumeRequested):
            self.resumes.append(event)
        elif isinstance(event, ResumeRejected):
            self.rejections.append(event)
        else:
            self.result = event


class PendingView:
    """Every run seen on the topics, kept current by one reader task. ``ready`` is set once the
    topics were read to the ends they had when the reader started."""

    def __init__(self, transport: Transport, topics: Topics = Topics()) -> None:  # noqa: B008
        self.transport = transport
        self.topics = topics
        self.runs: dict[str, RunState] = {}
        self.ready = asyncio.Event()
        self._listeners: set[asyncio.Queue[str]] = set()
        self._changed = asyncio.Condition()
        self._decoders: dict[str, Callable[[bytes], Event]] = {
            topics.requests: decode_request,
            topics.approvals: decode_approval,
            topics.resumes: decode_resume,
        }
        self._task: asyncio.Task[None] | None = None

    def _decode(self, topic: str, value: bytes) -> Event | None:
        decode = self._decoders.get(topic, decode_result)
        try:
            return decode(value)
        except EventDecodeError:
            return None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="intermission-inbox-view")
        waiting = asyncio.ensure_future(self.ready.wait())
        await asyncio.wait({waiting, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            self._task.result()  # the reader failed: say why

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        topics = [
            self.topics.requests,
            self.topics.approvals,
            self.topics.resumes,
            self.topics.results,
            self.topics.dead_letter,
        ]
        seen: dict[tuple[str, int], int] = {}
        # First to the ends as they are now (so `ready` means "caught up"), then onwards: the
        # second reader starts at the beginning again and skips what the first one applied.
        async with self.transport.read(topics, start="beginning", until_end=True) as records:
            async for record in records:
                seen[(record.topic, record.partition)] = record.offset
                await self._apply(record.topic, record.key, record.value)
        self.ready.set()
        async with self.transport.read(topics, start="beginning") as records:
            async for record in records:
                if record.offset <= seen.get((record.topic, record.partition), -1):
                    continue
                await self._apply(record.topic, record.key, record.value)

    async def _apply(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            return
        if topic == self.topics.dead_letter:
            await self._apply_dead_letter(key, value)
            return
        event = self._decode(topic, value)
        if event is None:
            log.warning("inbox: skipping a record of %s that is not an event", topic)
            return
        self._state(event.run_id).apply(event)
        await self._changed_run(event.run_id)

    def _state(self, run_id: str) -> RunState:
        state = self.runs.get(run_id)
        if state is None:
            state = self.runs[run_id] = RunState(run_id, self.topics.requests)
        return state

    async def _changed_run(self, run_id: str) -> None:
        for queue in self._listeners:
            queue.put_nowait(run_id)
        async with self._changed:
            self._changed.notify_all()

    async def _apply_dead_letter(self, key: bytes | None, value: bytes) -> None:
        try:
            letter = decode_dead_letter(value)
        except EventDecodeError:
            return
        run_id = (key or b"").decode("utf-8", "replace")
        if run_id:  # dead letters are keyed by the record's own key: the run id
            self._state(run_id).dead_letters.append(letter)
            await self._changed_run(run_id)

    # -- for the pages and the API ---------------------------------------------------------------

    def pending(self, now: datetime | None = None) -> list[RunState]:
        moment = now or datetime.now(UTC)
        return [s for s in self.runs.values() if s.status(moment) == "pending"]

    def get(self, run_id: str) -> RunState | None:
        return self.runs.get(run_id)

    async def wait_for(self, check: Callable[[], bool], timeout: float) -> bool:  # noqa: ASYNC109
        """Wait until ``check()`` holds (re-checked after every event) or ``timeout`` passes."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(check)
        except TimeoutError:
            return check()
        return True

    @contextlib.asynccontextmanager
    async def changes(self) -> AsyncIterator[asyncio.Queue[str]]:
        """Run ids as their runs change, for one listener (an SSE stream)."""
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._listeners.add(queue)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)
