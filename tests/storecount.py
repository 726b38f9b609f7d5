"""A SnapshotStore wrapper that counts the requests each method makes (one call, one S3 request).

Used by the service tests and by bench/scale.py, which also reads ``requests`` (each call's
method and key or prefix) to split the counts by key area."""

from __future__ import annotations

from collections import Counter

from intermission.service.ports import SnapshotStore, StoredObject

__all__ = ["CountingStore"]


class CountingStore:
    def __init__(self, inner: SnapshotStore, *, keep_requests: bool = True) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, str]] = []  # (method, key or prefix), in call order
        # Off for long benchmarks: a kept (method, key) per request is ~4 KB per replayed run.
        self.keep_requests = keep_requests

    def _count(self, method: str, key: str) -> None:
        self.calls[method] += 1
        if self.keep_requests:
            self.requests.append((method, key))

    async def create(self, key: str, data: bytes) -> str:
        self._count("create", key)
        return await self.inner.create(key, data)

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        self._count("replace", key)
        return await self.inner.replace(key, data, etag)

    async def get(self, key: str) -> StoredObject | None:
        self._count("get", key)
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        self._count("list", prefix)  # may be several requests: never called by a listing
        return await self.inner.list(prefix)

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> list[str]:
        self._count("list_page", prefix)
        return await self.inner.list_page(prefix, start_after=start_after, limit=limit)

    async def delete(self, key: str) -> None:
        self._count("delete", key)
        await self.inner.delete(key)

    def total(self) -> int:
        return sum(self.calls.values())
