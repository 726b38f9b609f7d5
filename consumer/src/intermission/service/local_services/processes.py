"""What the Kafka and S3 launchers share: a stoppable handle, and children that die with us."""

from __future__ import annotations

import ctypes
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

__all__ = ["Stoppable", "die_with_parent", "free_loopback_port", "loopback_port_is_free"]


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
