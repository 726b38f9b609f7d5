"""Run your app's worker in-process, on an in-memory log and a local store, and talk to it.

    async with ServiceHarness(ai) as service:
        await service.client.submit(GenerateRequest(run_id="r1", idempotency_key="r1", ...))
        raised = await service.interrupt("r1")
        await service.client.restart(raised, {raised.interrupts[0].ref: {"status": "APPROVED"}},
                                     answered_by="alice")
        result = await service.result("r1")

The worker is the production one (``build_worker`` and ``Worker.run``), and ``client`` is the
production ``IntermissionClient``, on a `MemoryLog` instead of Kafka: a test exercises the same
code paths as a deployment, with no broker and no bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, TypeVar

from intermission_producer import IntermissionClient, ResultTimeout
from intermission_schemas import (
    DeadLetter,
    EventDecodeError,
    InterruptRaised,
    RunCompleted,
    RunFailed,
    decode_approval,
    decode_dead_letter,
    decode_result,
)

from .._app import Intermission
from ..errors import UsageError
from ..replay import Fork, fork_run
from ..service.adapters.local import LocalSnapshotStore, MemoryLog
from ..service.ports import Subscription
from ..service.runs.sealing import Sealer
from ..service.wiring.compose import build_worker
from ..service.wiring.settings import Settings

__all__ = ["ServiceHarness"]

T = TypeVar("T")


class ServiceHarness:
    """A worker for ``ai`` on a `MemoryLog` and a `LocalSnapshotStore`, and a client on the log.

    ``settings`` defaults to ``Settings()`` (default topics and group; its ``app`` is not used,
    ``ai`` is). ``directory`` holds the snapshots; by default a temporary directory that is
    removed on leaving. ``log`` lets several harnesses (workers) share one log.

    ``interrupt(run_id)`` and ``result(run_id)`` read the log from its beginning, so they find
    events published before they were called; each ``interrupt`` call returns the run's next
    InterruptRaised that no earlier call returned. They fail at once, rather than time out,
    when a record of the run was dead-lettered (AssertionError with the reason) or the worker
    crashed; ``ResultTimeout`` when nothing came within ``timeout`` seconds.
    """

    def __init__(
        self,
        ai: Intermission,
        *,
        settings: Settings | None = None,
        directory: str | os.PathLike[str] | None = None,
        log: MemoryLog | None = None,
    ) -> None:
        self.ai = ai
        self.settings = settings or Settings()
        self.log = log or MemoryLog()
        self.client = IntermissionClient(transport=self.log, topics=self.settings.topics)
        self._directory = directory
        self._temporary: str | None = None
        self._store: LocalSnapshotStore | None = None
        self._subscription: Subscription | None = None
        self._worker: asyncio.Task[None] | None = None
        self._interrupts_returned: dict[str, int] = {}

    @property
    def store(self) -> LocalSnapshotStore:
        if self._store is None:
            raise UsageError("the store exists inside `async with ServiceHarness(...)`")
        return self._store

    async def __aenter__(self) -> Self:
        if self._worker is not None:
            raise UsageError("the harness is already running")
        directory = self._directory
        if directory is None:
            directory = self._temporary = tempfile.mkdtemp(prefix="intermission-")
        self._store = LocalSnapshotStore(directory)
        worker = build_worker(self.settings, store=self._store, publisher=self.log, ai=self.ai)
        topics = self.settings.topics
        self._subscription = self.log.subscribe([topics.requests, topics.resumes], self.settings.group_id)
        self._worker = asyncio.create_task(worker.run(self._subscription), name="intermission-test-worker")
        await self.client.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        worker, self._worker = self._worker, None
        try:
            await self.client.__aexit__(exc_type, exc, tb)
            if self._subscription is not None:
                await self._subscription.close()  # the worker finishes what is in flight, returns
            if worker is not None:
                await worker
        finally:
            if worker is not None and not worker.done():
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            if self._temporary is not None:
                shutil.rmtree(self._temporary, ignore_errors=True)
                self._temporary = None

    # -- waiting for what the worker publishes -------------------------------------------------

    async def interrupt(self, run_id: str, *, timeout: float = 5.0) -> InterruptRaised:  # noqa: ASYNC109
        """The next InterruptRaised of ``run_id`` (the first not returned by an earlier call)."""
        skip = self._interrupts_returned.get(run_id, 0)
        seen = 0

        def wanted(event: Any) -> bool:
            nonlocal seen
            if not isinstance(event, InterruptRaised) or event.run_id != run_id:
                return False
            seen += 1
            return seen > skip

        found = await self._first(self.settings.topics.approvals, decode_approval, wanted, run_id, timeout)
        assert isinstance(found, InterruptRaised)
        self._interrupts_returned[run_id] = skip + 1
        return found

    async def result(self, run_id: str, *, timeout: float = 5.0) -> RunCompleted | RunFailed:  # noqa: ASYNC109
        """The RunCompleted or RunFailed of ``run_id`` (on the default results topic)."""

        def wanted(event: Any) -> bool:
            return isinstance(event, RunCompleted | RunFailed) and event.run_id == run_id

        found = await self._first(self.settings.topics.results, decode_result, wanted, run_id, timeout)
        assert isinstance(found, RunCompleted | RunFailed)
        return found

    async def fork(self, run_id: str, version: int, **options: Any) -> Fork:
        """Fork ``run_id`` at its pause ``version``, as ``intermission runs fork`` does, on this
        harness's store and log with its settings' seal key and resume tokens. ``options`` as
        `intermission.replay.fork_run` takes them: ``new_run_id``, ``respond``, ``restart``,
        ``replace_input``, ``answered_by``."""
        settings = self.settings
        return await fork_run(
            ai=self.ai,
            store=self.store,
            sealer=Sealer(settings.seal_secret(), compression=settings.snapshot_compression),
            transport=self.log,
            topics=settings.topics,
            run_id=run_id,
            version=version,
            tokens=settings.resume_tokens(),
            **options,
        )

    def dead_letters(self) -> list[DeadLetter]:
        """What the worker dead-lettered so far: a request that never gets a result may be here."""
        return [decode_dead_letter(r.value) for r in self.log.topics[self.settings.topics.dead_letter]]

    async def _first(
        self,
        topic: str,
        decode: Callable[[bytes], T],
        wanted: Callable[[T], bool],
        run_id: str,
        timeout: float,  # noqa: ASYNC109
    ) -> T:
        dead_letter = self.settings.topics.dead_letter

        async def search() -> T:
            async with self.log.read([topic, dead_letter], start="beginning") as records:
                async for record in records:
                    try:
                        if record.topic == dead_letter:
                            letter = decode_dead_letter(record.value)
                            if record.key == run_id.encode():
                                raise AssertionError(
                                    f"a record of run {run_id!r} was dead-lettered: {letter.reason}: "
                                    f"{letter.detail}"
                                )
                            continue
                        event = decode(record.value)
                    except EventDecodeError:
                        continue
                    if wanted(event):
                        return event
            raise AssertionError("unreachable: a read without until_end waits for more")

        return await self._racing_the_worker(search(), run_id, timeout)

    async def _racing_the_worker(self, work: Awaitable[T], run_id: str, timeout: float) -> T:  # noqa: ASYNC109
        worker = self._worker
        if worker is None:
            raise UsageError("use the harness inside `async with ServiceHarness(...)`")
        waiting = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({waiting, worker}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if waiting in done:
            return waiting.result()
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        if worker in done:
            raise RuntimeError(f"the worker stopped while waiting for run {run_id!r}") from (
                None if worker.cancelled() else worker.exception()
            )
        raise ResultTimeout(run_id, timeout, "nothing awaited arrived")
