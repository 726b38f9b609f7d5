"""A SnapshotStore wrapper that counts the requests each method makes (one call, one S3 request)."""

from __future__ import annotations

from collections import Counter

from intermission.service.ports import SnapshotStore, StoredObject

__all__ = ["CountingStore"]


class CountingStore:
    def __init__(self, inner: SnapshotStore) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    async def create(self, key: str, data: bytes) -> str:
        self.calls["create"] += 1
        return await self.inner.create(key, data)

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        self.calls["replace"] += 1
        return await self.inner.replace(key, data, etag)

    async def get(self, key: str) -> StoredObject | None:
        self.calls["get"] += 1
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        self.calls["list"] += 1  # may be several requests: never called by a listing
        return await self.inner.list(prefix)

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> list[str]:
        self.calls["list_page"] += 1
        return await self.inner.list_page(prefix, start_after=start_after, limit=limit)

    async def delete(self, key: str) -> None:
        self.calls["delete"] += 1
        await self.inner.delete(key)

    def total(self) -> int:
        return sum(self.calls.values())
