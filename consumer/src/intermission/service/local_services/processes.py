"""What the Kafka and S3 launchers share: a stoppable handle, and children that die with us."""

from __future__ import annotations

import asyncio
import ctypes
import signal
import socket
import sys
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

__all__ = [
    "Stoppable",
    "die_with_parent",
    "free_loopback_port",
    "loopback_port_is_free",
    "run_async_in_thread",
    "tcp_probe",
]

_T = TypeVar("_T")


class Stoppable:
    """`stop()` runs the stored stop function once; the object is also a context manager."""

    _stop: Callable[[], None] | None

    def stop(self) -> None:
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes Linux stop the child if its parent dies (even by SIGKILL).

    PR_SET_PDEATHSIG fires when the *thread* that started the child exits, so it is only used
    when that thread is the main thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


def loopback_port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_loopback_port() -> int:
    """A port nobody listens on now, on 127.0.0.1 (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_async_in_thread(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine to completion on a private loop and return its result.

    A separate thread because the caller may already be inside a running event loop (an async
    fixture or test), where `asyncio.run` is not allowed.
    """
    results: list[_T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(asyncio.run(coro))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=target, name="kafka-probe", daemon=True)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return results[0]


def tcp_probe(bootstrap: str) -> None:
    """Connect to the first address of ``host:port[,...]``; raises OSError if nobody listens."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
        pass
