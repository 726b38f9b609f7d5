"""A waiting worker measures a claim's lease in elapsed time, never on its wall clock (issue 20).

`ClaimWatch` read the worker's wall clock: an NTP step of J seconds during a wait shortened or
lengthened the wait by J. It reads a monotonic clock now; the wall clock is not consulted at all.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from intermission.service.clock import REAL_CLOCK
from intermission.service.runs import Runs
from intermission.service.runs.lease import ClaimWatch
from intermission.service.runs.lifecycle import new_claim


def test_the_wait_counts_elapsed_time_whatever_the_wall_clock_does() -> None:
    ticks = [100.0]
    watch = ClaimWatch(lambda: ticks[0])
    claim = new_claim("dead-owner", datetime(2026, 12, 7, tzinfo=UTC), timedelta(seconds=30))
    assert watch.seen_for("pause", claim) == timedelta(0)
    ticks[0] += 12.5
    assert watch.seen_for("pause", claim) == timedelta(seconds=12.5)
    renewed = new_claim("dead-owner", datetime(2026, 12, 7, 0, 0, 10, tzinfo=UTC), timedelta(seconds=30))
    assert watch.seen_for("pause", renewed) == timedelta(0), "a renewal starts the count again"
    ticks[0] += 30
    assert watch.seen_for("pause", renewed) == timedelta(seconds=30)
    watch.forget("pause")
    assert watch.seen_for("pause", renewed) == timedelta(0)


def test_the_production_worker_waits_on_the_monotonic_clock() -> None:
    defaults = Runs.__init__.__kwdefaults__ or {}
    assert defaults["clock"] is REAL_CLOCK
    assert REAL_CLOCK.elapsed is time.monotonic
    assert REAL_CLOCK.sleep is asyncio.sleep
