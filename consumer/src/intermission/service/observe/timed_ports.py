"""The two seams, timed: each store operation and each publish reported with how it ended.

Decorators rather than code in each adapter, so every store (S3 through boto3 or obstore, the
local directory) and every log is timed the same way, by one piece of code.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ...errors import RecordTooLargeError, ToolInterrupt, UnavailableError
from ..ports import Headers, PreconditionFailed, Publisher, SnapshotStore, StoredObject
from .events import CallOutcome, Observation, Published, StoreCalled, StoreOperation
from .observer import Observer

__all__ = ["TimedPublisher", "TimedSnapshotStore", "outcome_of", "timed"]

T = TypeVar("T")


def outcome_of(error: BaseException) -> CallOutcome:
    match error:
        case asyncio.CancelledError():
            return "cancelled"
        case ToolInterrupt():
            return "interrupted"
        case PreconditionFailed():
            return "precondition"
        case UnavailableError():
            return "unavailable"
        case RecordTooLargeError():
            return "too_large"
        case _:
            return "error"


async def timed(
    call: Awaitable[T], observer: Observer, observation: Callable[[float, CallOutcome], Observation]
) -> T:
    """Await ``call``, then report ``observation(seconds, outcome)``, however it ended."""
    started = time.perf_counter()
    outcome: CallOutcome = "ok"
    try:
        return await call
    except BaseException as exc:
        outcome = outcome_of(exc)
        raise
    finally:
        observer.observe(observation(time.perf_counter() - started, outcome))


class TimedSnapshotStore:
    """`SnapshotStore` around another, reporting a `StoreCalled` per operation."""

    def __init__(self, inner: SnapshotStore, observer: Observer) -> None:
        self.inner = inner
        self.observer = observer

    async def _timed(self, operation: StoreOperation, call: Awaitable[T]) -> T:
        return await timed(
            call,
            self.observer,
            lambda seconds, outcome: StoreCalled(operation=operation, seconds=seconds, outcome=outcome),
        )

    async def create(self, key: str, data: bytes) -> str:
        return await self._timed("create", self.inner.create(key, data))

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        return await self._timed("replace", self.inner.replace(key, data, etag))

    async def get(self, key: str) -> StoredObject | None:
        return await self._timed("get", self.inner.get(key))

    async def list(self, prefix: str) -> builtins.list[str]:
        return await self._timed("list", self.inner.list(prefix))

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> builtins.list[str]:
        return await self._timed(
            "list_page", self.inner.list_page(prefix, start_after=start_after, limit=limit)
        )

    async def delete(self, key: str) -> None:
        await self._timed("delete", self.inner.delete(key))


class TimedPublisher:
    """`Publisher` around another, reporting a `Published` per publish."""

    def __init__(self, inner: Publisher, observer: Observer) -> None:
        self.inner = inner
        self.observer = observer

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        await timed(
            self.inner.publish(topic, key, value, headers),
            self.observer,
            lambda seconds, outcome: Published(topic=topic, seconds=seconds, outcome=outcome),
        )
