"""The worker's one time source: wall time, elapsed time and waiting, injected together.

Every timer of a worker runs on it (lease renewals, waits on another worker's claim, the expiry
sweep, retry backoff), so a test's clock moves all of them at once and no wait is real time
behind its back. Production uses the real one, built once in wiring.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["REAL_CLOCK", "Clock"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Clock:
    """``now``: wall time (claims, deadlines, stored times); ``elapsed``: seconds that a wall-clock
    step never moves (how long a claim was seen unchanged); ``sleep``: waits on that same time."""

    now: Callable[[], datetime] = field(default=_utc_now)
    elapsed: Callable[[], float] = field(default=time.monotonic)
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)


REAL_CLOCK = Clock()
