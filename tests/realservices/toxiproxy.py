"""Toxiproxy for the test suite: a TCP proxy between a worker and Kafka or S3 that adds
latency, resets connections and limits bandwidth on command.

Toxiproxy is a Go program. `start_toxiproxy()` finds its server binary, or builds it once with
``go install`` (Go and the Go module proxy are what CI has too) into
``~/.cache/intermission/toxiproxy/bin``, then drives it through its HTTP API. If it can neither
find nor build it, `ToxiproxyUnavailableError` says what is missing: a fault test with no fault
proxy has tested nothing, so it fails, never skips.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

__all__ = [
    "TOXIPROXY_MODULE",
    "Proxy",
    "Toxiproxy",
    "ToxiproxyUnavailableError",
    "ensure_toxiproxy",
    "start_toxiproxy",
]

TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0"
_GO_ELSEWHERE = ("/usr/local/go/bin/go",)  # Go's own installer puts it here, off PATH
_BUILD_TIMEOUT_S = 600.0  # a cold module cache downloads ~20 modules; about 1 min here

Stream = Literal["upstream", "downstream"]


class ToxiproxyUnavailableError(RuntimeError):
    """Toxiproxy could not be found, built or started; the message says how to fix it."""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "intermission" / "toxiproxy"


def ensure_toxiproxy() -> Path:
    """The toxiproxy server binary: on PATH as ``toxiproxy-server``, in our cache, or built
    there now with ``go install``."""
    on_path = shutil.which("toxiproxy-server")
    if on_path:
        return Path(on_path)
    binary = _cache_dir() / "bin" / "server"
    if binary.exists():
        return binary
    go = shutil.which("go") or next((p for p in _GO_ELSEWHERE if Path(p).exists()), None)
    if go is None:
        raise ToxiproxyUnavailableError(
            "Toxiproxy is not installed and cannot be built: no `go` command (Go 1.22+) on PATH "
            "or at /usr/local/go/bin/go. Install Go, or put a toxiproxy server on PATH as "
            f"`toxiproxy-server` (go install {TOXIPROXY_MODULE})."
        )
    binary.parent.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "GOBIN": str(binary.parent), "GOFLAGS": "-mod=mod"}
    try:
        built = subprocess.run(
            [go, "install", TOXIPROXY_MODULE],
            env=environment,
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToxiproxyUnavailableError(
            f"`go install {TOXIPROXY_MODULE}` did not finish in {_BUILD_TIMEOUT_S:.0f} s"
        ) from exc
    if built.returncode != 0 or not binary.exists():
        raise ToxiproxyUnavailableError(
            f"`go install {TOXIPROXY_MODULE}` failed (exit {built.returncode}); the Go module "
            f"proxy must be reachable, or toxiproxy-server on PATH:\n{built.stderr[-2000:]}"
        )
    return binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Proxy:
    """One proxy: clients connect to ``listen``, toxiproxy connects on to ``upstream``."""

    api: Toxiproxy
    name: str
    listen: str  # host:port
    upstream: str
    _toxics: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])

    def add_toxic(
        self,
        kind: str,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: Any,
    ) -> str:
        """Add a toxic (``latency``, ``bandwidth``, ``reset_peer``, ``timeout``, ``slicer``,
        ``limit_data``...); see toxiproxy's README for each one's attributes. Returns its name."""
        toxic = name or f"{kind}_{stream}_{len(self._toxics)}"
        self.api.request(
            "POST",
            f"/proxies/{self.name}/toxics",
            {"name": toxic, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes},
        )
        self._toxics.append(toxic)
        return toxic

    def remove_toxic(self, toxic: str) -> None:
        self.api.request("DELETE", f"/proxies/{self.name}/toxics/{toxic}")
        self._toxics.remove(toxic)

    def clear(self) -> None:
        for toxic in list(self._toxics):
            self.remove_toxic(toxic)

    def set_enabled(self, enabled: bool) -> None:
        """A disabled proxy closes its connections and refuses new ones: a clean cut."""
        self.api.request("POST", f"/proxies/{self.name}", {"enabled": enabled})


class Toxiproxy:
    """A running toxiproxy server of our own, on loopback."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log
        self._http = httpx.Client(base_url=url, timeout=10.0)
        self._proxies: list[str] = []

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 400:
            raise ToxiproxyUnavailableError(
                f"toxiproxy {method} {path} answered {response.status_code}: {response.text}"
            )
        return response.json() if response.content else None

    def proxy(self, name: str, upstream: str, *, listen_port: int | None = None) -> Proxy:
        """A new proxy to ``upstream``; on ``listen_port``, or on a free port if not given."""
        port = listen_port if listen_port is not None else _free_port()
        created = self.request(
            "POST",
            "/proxies",
            {"name": name, "listen": f"127.0.0.1:{port}", "upstream": upstream, "enabled": True},
        )
        self._proxies.append(name)
        return Proxy(self, name, created["listen"], upstream)

    def remove_all(self) -> None:
        """Delete every proxy made through this object (its connections close)."""
        for name in self._proxies:
            with contextlib.suppress(ToxiproxyUnavailableError, httpx.HTTPError):
                self.request("DELETE", f"/proxies/{name}")
        self._proxies.clear()

    def stop(self) -> None:
        self._http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_toxiproxy(*, startup_timeout: float = 30.0) -> Toxiproxy:
    """Find or build toxiproxy, start it on a free loopback port, wait for its API."""
    binary = ensure_toxiproxy()
    port = _free_port()
    log = Path(tempfile.mkstemp(prefix="toxiproxy-", suffix=".log")[1])
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary), "-host", "127.0.0.1", "-port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ToxiproxyUnavailableError(
                f"toxiproxy ({binary}) exited with code {process.returncode} at start:\n"
                + log.read_text(errors="replace")[-2000:]
            )
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/version", timeout=1.0).status_code == 200:
                return Toxiproxy(process, url, log)
        time.sleep(0.1)
    process.kill()
    process.wait()
    raise ToxiproxyUnavailableError(f"toxiproxy's API at {url} did not answer within {startup_timeout:.0f} s")
