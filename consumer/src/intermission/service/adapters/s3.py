"""S3 behind the snapshot-store seam, with conditional writes as the only concurrency control.

boto3 is synchronous: every call runs on a private thread pool sized like the client's
connection pool, so the event loop never blocks and as many calls run at once as there are
connections for them.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ...errors import StoreUnavailableError
from ..ports import PreconditionFailed, StoredObject

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = ["S3SnapshotStore"]

_T = TypeVar("_T")

# 409 ConditionalRequestConflict means another conditional write to the key was in flight; AWS
# says to retry. The retry then meets the winner's object and fails with 412 if it lost.
_CONFLICT_ATTEMPTS = 4
_CONFLICT_BACKOFF_S = 0.02
_PAGE_LIMIT = 1000  # S3's own maximum of keys per ListObjectsV2 response
_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}
_INTERPRETED_CODES = {
    *_MISSING_CODES,
    "NoSuchBucket",
    "PreconditionFailed",
    "ConditionalRequestConflict",
    "BucketAlreadyOwnedByYou",
    "BucketAlreadyExists",
}


class S3SnapshotStore:
    """`SnapshotStore` on one bucket under one key prefix.

    Keys given to and returned by the methods are relative to ``prefix``. ETags are kept exactly
    as S3 returns them (with their quotes), so they can be passed back as If-Match unchanged.
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
        max_pool_connections: int = 64,
        path_style: bool | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        # Path-style addressing by default for custom endpoints: virtual-host buckets need DNS
        # names like bucket.127.0.0.1, which do not resolve for local or on-premises servers.
        use_path = endpoint_url is not None if path_style is None else path_style
        config = Config(
            max_pool_connections=max_pool_connections,
            retries={"mode": "standard"},
            s3={"addressing_style": "path" if use_path else "auto"},
        )
        # A client is thread-safe and expensive to build: one per store, shared by all threads.
        # None credentials fall through to boto3's default chain (env, profile, IAM role).
        self._client: S3Client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=config,
        )
        self._pool = ThreadPoolExecutor(max_workers=max_pool_connections, thread_name_prefix="s3")

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self._client.close()

    def __enter__(self) -> S3SnapshotStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> S3SnapshotStore:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def _call(self, what: str, fn: Callable[..., _T], /, **kwargs: Any) -> _T:
        """Run ``fn`` off the event loop. Every botocore failure becomes one of ours here, and
        only here: a ``_Refused`` for the S3 answers a method interprets (missing, lost
        condition, conflict), a ``StoreUnavailableError`` for everything else."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, **kwargs))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _INTERPRETED_CODES:
                raise _Refused(code) from exc
            raise StoreUnavailableError(f"{what}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailableError(f"{what}: {exc}") from exc

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet (a bucket we already own is fine)."""
        with contextlib.suppress(_Refused):  # already ours
            await self._call(f"create bucket {self.bucket!r}", self._client.create_bucket, Bucket=self.bucket)

    async def bucket_exists(self) -> bool:
        """Whether the bucket is there (some S3-compatible servers create one on the first PUT,
        so a write alone does not tell)."""
        try:
            await self._call(f"head bucket {self.bucket!r}", self._client.head_bucket, Bucket=self.bucket)
        except _Refused as refused:
            if refused.code in _MISSING_CODES or refused.code == "NoSuchBucket":
                return False
            raise StoreUnavailableError(f"head bucket {self.bucket!r}: {refused.code}") from refused
        return True

    async def create(self, key: str, data: bytes) -> str:
        return await self._put(key, data, IfNoneMatch="*")

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        return await self._put(key, data, IfMatch=etag)

    async def _put(self, key: str, data: bytes, **condition: str) -> str:
        for attempt in range(_CONFLICT_ATTEMPTS):
            try:
                response = await self._call(
                    f"put {key!r}",
                    self._client.put_object,
                    Bucket=self.bucket,
                    Key=self._key(key),
                    Body=data,
                    **condition,
                )
                return response["ETag"]
            except _Refused as refused:
                # 404: If-Match on a key that no longer exists (AWS answers so); the object
                # changed under the caller exactly as with a 412.
                if refused.code == "PreconditionFailed" or refused.code in _MISSING_CODES:
                    raise PreconditionFailed(key) from refused
                if refused.code != "ConditionalRequestConflict":
                    raise StoreUnavailableError(f"put {key!r}: {refused.code}") from refused
                await asyncio.sleep(_CONFLICT_BACKOFF_S * (2**attempt) * (0.5 + random.random()))
        # Still conflicting after the retries: someone else keeps writing this key, so the
        # caller's condition cannot be said to hold.
        raise PreconditionFailed(key)

    async def get(self, key: str) -> StoredObject | None:
        what = f"get {key!r}"
        try:
            response = await self._call(what, self._client.get_object, Bucket=self.bucket, Key=self._key(key))
            # Reading the body is network I/O too: keep it off the event loop.
            data = await self._call(what, response["Body"].read)
        except _Refused as refused:
            if refused.code in _MISSING_CODES:
                return None
            raise StoreUnavailableError(f"{what}: {refused.code}") from refused
        return StoredObject(data=data, etag=response["ETag"])

    async def delete(self, key: str) -> None:
        try:
            await self._call(
                f"delete {key!r}", self._client.delete_object, Bucket=self.bucket, Key=self._key(key)
            )
        except _Refused as refused:
            if refused.code not in _MISSING_CODES:
                raise StoreUnavailableError(f"delete {key!r}: {refused.code}") from refused

    def _list_sync(self, prefix: str) -> list[str]:
        # One thread walks all pages: a run has few objects, and per-page hops would only add
        # latency. S3 returns keys in UTF-8 binary order, which sorted() reproduces for str.
        paginator = self._client.get_paginator("list_objects_v2")
        strip = len(self.prefix)
        keys = [
            item["Key"][strip:]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix))
            for item in page.get("Contents", [])
        ]
        return sorted(keys)

    async def list(self, prefix: str) -> list[str]:
        try:
            return await self._call(f"list {prefix!r}", self._list_sync, prefix=prefix)
        except _Refused as refused:
            raise StoreUnavailableError(f"list {prefix!r}: {refused.code}") from refused

    def _list_page_sync(self, prefix: str, start_after: str, limit: int) -> builtins.list[str]:
        options: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self._key(prefix), "MaxKeys": limit}
        if start_after:
            options["StartAfter"] = self._key(start_after)
        strip = len(self.prefix)
        response = self._client.list_objects_v2(**options)
        return sorted(item["Key"][strip:] for item in response.get("Contents", []))

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> builtins.list[str]:
        if not 1 <= limit <= _PAGE_LIMIT:
            raise ValueError(f"a page holds 1 to {_PAGE_LIMIT} keys, not {limit}")
        try:
            return await self._call(
                f"list {prefix!r}", self._list_page_sync, prefix=prefix, start_after=start_after, limit=limit
            )
        except _Refused as refused:
            raise StoreUnavailableError(f"list {prefix!r}: {refused.code}") from refused


class _Refused(Exception):
    """An S3 answer a method gives meaning to; never leaves this module."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
