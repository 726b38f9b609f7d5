"""A clock that stands still until a test (or a bench) moves it: sweeps and leases see the time
the caller sets, not the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["Clock"]


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now
