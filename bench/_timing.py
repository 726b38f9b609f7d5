"""Tiny timing helper shared by the benchmark scripts.

Kept dependency-free (stdlib only) so both ``engine_cycle.py`` and ``peers_only.py``
can import it without pulling in any peer framework.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass


async def measure(
    fn: Callable[[], Awaitable[object]],
    *,
    warmup: int = 20,
    iterations: int = 200,
) -> list[float]:
    """Run ``fn`` ``warmup`` times untimed, then ``iterations`` times timed.

    Returns one wall-clock duration in seconds per timed call, in call order.
    Each call is timed on its own (not total / n) so the caller can take
    percentiles: the tail is what differs most between frameworks.
    """
    if iterations < 1:
        raise ValueError("iterations must be >= 1")
    # Warm-up fills lazy caches (pydantic schema builds, graph compilation
    # artefacts, import-time work) that would otherwise land in the first samples.
    for _ in range(warmup):
        await fn()
    # Start every measurement from the same heap state so garbage left behind by
    # setup or by a previous peer is not collected inside our timed window.
    gc.collect()
    samples: list[float] = []
    perf = time.perf_counter
    for _ in range(iterations):
        start = perf()
        await fn()
        samples.append(perf() - start)
    return samples


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``samples``.

    Nearest-rank rather than interpolation: every reported value is one that was
    actually observed, and p95 of 200 samples is the 190th smallest.
    """
    if not samples:
        raise ValueError("no samples")
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """Percentiles of one timed series, in milliseconds."""

    n: int
    p50_ms: float
    p95_ms: float
    min_ms: float
    max_ms: float


def summarize(samples: Sequence[float]) -> Summary:
    """p50/p95/min/max in milliseconds of per-call durations given in seconds."""
    return Summary(
        n=len(samples),
        p50_ms=percentile(samples, 50) * 1000,
        p95_ms=percentile(samples, 95) * 1000,
        min_ms=min(samples) * 1000,
        max_ms=max(samples) * 1000,
    )
