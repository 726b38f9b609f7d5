"""A worker process whose wall clock is off by a fixed offset: libfaketime, from Debian's
`faketime` package, preloaded into it.

Only the wall clock moves (FAKETIME_DONT_FAKE_MONOTONIC): that is what a machine with a wrong
clock has; its monotonic clock still counts real seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from fault_app import CLOCK_SKEW_VARIABLE

__all__ = ["find_libfaketime", "skewed_clock_env"]

_SEARCHED = ("/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/aarch64-linux-gnu/faketime", "/usr/lib/faketime")
# The thread-safe build: the worker has threads (S3 clients, Kafka) that read the clock too.
_LIBRARY = "libfaketimeMT.so.1"


def find_libfaketime() -> Path | None:
    for folder in _SEARCHED:
        candidate = Path(folder) / _LIBRARY
        if candidate.exists():
            return candidate
    return None


def _install() -> None:
    """As .ci/run installs chromium: Debian's package, when we are root and apt-get exists."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    command = ["apt-get", "install", "-y", "faketime"]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(command, env=environment, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=environment, capture_output=True, check=False)
        subprocess.run(command, env=environment, capture_output=True, check=False)


def skewed_clock_env(offset_s: int) -> dict[str, str]:
    """Environment for a worker whose clock is `offset_s` seconds ahead (negative: behind).
    Fails the test, with what to install, when libfaketime is absent."""
    library = find_libfaketime()
    if library is None:
        _install()
        library = find_libfaketime()
    if library is None:
        pytest.fail(
            f"libfaketime ({_LIBRARY}) is not installed, and this test needs it to skew a worker's "
            f"clock: apt-get install -y faketime (Debian's package; searched {', '.join(_SEARCHED)})",
            pytrace=False,
        )
    return {
        "LD_PRELOAD": str(library),
        "FAKETIME": f"{offset_s:+d}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        CLOCK_SKEW_VARIABLE: str(offset_s),
    }
