"""S3 through obstore (Rust's object_store) behind the snapshot-store seam.

The same contract as `S3SnapshotStore` (boto3): conditional creates map to ``If-None-Match: *``
(``mode="create"``), replaces to ``If-Match`` on the etag (``mode={"e_tag": ...}``). The
difference is where the work happens: requests are made by Rust on its own threads and awaited
natively, so no Python thread pool and no GIL-bound request signing per call. Select it with
``INTERMISSION_S3_CLIENT=obstore``.
"""

from __future__ import annotations

import asyncio
import builtins
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import obstore
from obstore.exceptions import (
    AlreadyExistsError,
    BaseError,
    NotFoundError,
    PreconditionError,
)
from obstore.store import S3Store

from ...errors import StoreUnavailableError
from ..ports import PreconditionFailed, StoredObject

__all__ = ["ObstoreSnapshotStore"]

_T = TypeVar("_T")

_CONFLICT_ATTEMPTS = 4
_PAGE_LIMIT = 1000  # S3's own page size
_CONFLICT_BACKOFF_S = 0.02


class ObstoreSnapshotStore:
    """`SnapshotStore` on one bucket under one key prefix, through obstore.

    Keys are relative to ``prefix``. ETags are kept as S3 returns them (quoted), so they pass
    back unchanged. ``None`` credentials fall back to the environment (AWS_ACCESS_KEY_ID, ...,
    or the instance's role), as obstore reads them.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        # Short retries here: the worker waits out longer outages itself (backoff, holding new
        # records, readiness), and a start-up check must fail in seconds, not minutes.
        client: dict[str, Any] = {"connect_timeout": timedelta(seconds=5), "timeout": timedelta(seconds=30)}
        options: dict[str, Any] = {
            "conditional_put": "etag",
            "retry_config": {
                "max_retries": 3,
                "retry_timeout": timedelta(seconds=10),
                "backoff": {"init_backoff": timedelta(milliseconds=50), "max_backoff": timedelta(seconds=1)},
            },
            "client_options": client,
        }
        if endpoint_url is not None:
            # Path-style: bucket.host names do not resolve for local or on-premises servers.
            client["allow_http"] = endpoint_url.startswith("http://")
            options.update(endpoint=endpoint_url, virtual_hosted_style_request=False)
        if region is not None:
            options["region"] = region
        if access_key is not None and secret_key is not None:
            options.update(access_key_id=access_key, secret_access_key=secret_key)
        self._store = S3Store(bucket, **options)

    async def _call(self, what: str, call: Callable[[], Awaitable[_T]]) -> _T:
        """Every obstore failure becomes one of ours here, and only here. The outcomes a method
        gives meaning to pass through as obstore's own (not-found, already-exists, precondition)."""
        try:
            return await call()
        except (FileNotFoundError, NotFoundError, AlreadyExistsError, PreconditionError):
            raise
        except (BaseError, OSError) as exc:
            raise StoreUnavailableError(f"{what}: {exc}") from exc

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def bucket_exists(self) -> bool:
        try:
            await self._call(
                f"list bucket {self.bucket!r}",
                lambda: obstore.list_with_delimiter_async(self._store, prefix=self.prefix or None),
            )
        except (FileNotFoundError, NotFoundError):
            return False
        except StoreUnavailableError as exc:
            # A listing of a missing bucket comes back as a generic 404 naming the S3 code.
            if "NoSuchBucket" in str(exc.__cause__):
                return False
            raise
        return True

    async def create(self, key: str, data: bytes) -> str:
        return await self._put(key, data, "create")

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        return await self._put(key, data, {"e_tag": etag})

    async def _put(self, key: str, data: bytes, mode: Any) -> str:
        for attempt in range(_CONFLICT_ATTEMPTS):
            try:
                result = await self._call(
                    f"put {key!r}", lambda: obstore.put_async(self._store, self._key(key), data, mode=mode)
                )
            except (AlreadyExistsError, PreconditionError, FileNotFoundError, NotFoundError) as exc:
                raise PreconditionFailed(key) from exc
            except StoreUnavailableError as exc:
                # 409 ConditionalRequestConflict: another conditional write to the key was in
                # flight. AWS says retry; the retry meets the winner's object.
                if "409" not in str(exc.__cause__) or attempt == _CONFLICT_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(_CONFLICT_BACKOFF_S * (2**attempt) * (0.5 + random.random()))
                continue
            etag = result.get("e_tag")
            if etag is None:
                raise StoreUnavailableError(f"put {key!r}: the store returned no etag")
            return str(etag)
        raise PreconditionFailed(key)

    async def get(self, key: str) -> StoredObject | None:
        what = f"get {key!r}"
        try:
            response = await self._call(what, lambda: obstore.get_async(self._store, self._key(key)))
            data = await self._call(what, response.bytes_async)
        except (FileNotFoundError, NotFoundError):
            return None
        etag = response.meta.get("e_tag")
        if etag is None:
            raise StoreUnavailableError(f"{what}: the store returned no etag")
        return StoredObject(data=bytes(data), etag=str(etag))

    async def delete(self, key: str) -> None:
        try:
            await self._call(f"delete {key!r}", lambda: obstore.delete_async(self._store, self._key(key)))
        except (FileNotFoundError, NotFoundError):
            return

    async def list(self, prefix: str) -> list[str]:
        strip = len(self.prefix)
        try:
            found = await self._call(
                f"list {prefix!r}",
                lambda: obstore.list(self._store, prefix=self._key(prefix)).collect_async(),
            )
        except (FileNotFoundError, NotFoundError):
            return []
        return sorted(str(item["path"])[strip:] for item in found)

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> builtins.list[str]:
        if not 1 <= limit <= _PAGE_LIMIT:
            raise ValueError(f"a page holds 1 to {_PAGE_LIMIT} keys, not {limit}")
        strip = len(self.prefix)

        async def first_page() -> builtins.list[Any]:
            pages = obstore.list(
                self._store,
                prefix=self._key(prefix),
                offset=self._key(start_after) if start_after else None,
                chunk_size=limit,
            )
            async for page in pages:
                return list(page)
            return []

        try:
            found = await self._call(f"list {prefix!r}", first_page)
        except (FileNotFoundError, NotFoundError):
            return []
        keys = sorted(str(item["path"])[strip:] for item in found)
        return [key for key in keys if key.startswith(prefix) and key > start_after][:limit]

    async def __aenter__(self) -> ObstoreSnapshotStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None
