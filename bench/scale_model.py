"""The arithmetic of the scale model: measured per-cycle and per-run numbers in, extrapolated
rates, fleet sizes and monthly costs out. Stdlib only, no I/O, so a fast test can check it.

Every function here is a formula stated in docs/scale.md; the inputs are what bench/scale.py
measured (or, for prices and S3's limits, the published figures it names).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "MONTH_SECONDS",
    "READ_METHODS",
    "S3_LIMITS",
    "WRITE_METHODS",
    "Fleet",
    "PrefixLoad",
    "Prices",
    "area_of",
    "combined",
    "fleet",
    "monthly_request_cost",
    "prefix_loads",
    "requests_by_area",
    "storage_cost",
]

MONTH_SECONDS = 30 * 24 * 3600  # a 30-day month, as AWS bills GB-months

# What each SnapshotStore method is on the wire: one S3 request per call (list_page is one
# ListObjectsV2; ``list`` is one per 1,000 keys, and the service lists only short prefixes).
WRITE_METHODS = ("create", "replace", "delete")  # PUT (If-None-Match / If-Match) and DELETE
READ_METHODS = ("get", "list", "list_page")  # GET and ListObjectsV2 (a GET on the bucket)
# Billing tiers: DELETE is free; LIST is billed with PUT.
_PUT_TIER = ("create", "replace", "list", "list_page")
_GET_TIER = ("get",)


@dataclass(frozen=True)
class S3Limits:
    """AWS S3 request rates per partitioned prefix, per second (AWS, "Best practices design
    patterns: optimizing Amazon S3 performance")."""

    writes: int = 3500  # PUT/COPY/POST/DELETE
    reads: int = 5500  # GET/HEAD


S3_LIMITS = S3Limits()


@dataclass(frozen=True)
class Prices:
    """S3 Standard, us-east-1 list prices in USD (see docs/scale.md for source and date)."""

    put_per_1000: float = 0.005  # PUT, COPY, POST, LIST
    get_per_1000: float = 0.0004  # GET, SELECT and all other requests; DELETE is free
    gb_month: float = 0.023  # first 50 TB / month


def area_of(key: str) -> str:
    """The part of the key layout (service/runs/keys.py, index.py) a key or prefix lies in."""
    if key.startswith("runs/"):
        rest = key.split("/", 2)[2] if key.count("/") >= 2 else ""
        if rest.startswith("snapshots/"):
            return "runs/*/snapshots"
        if rest.startswith("journal/"):
            return "runs/*/journal"
        if rest == "result":
            return "runs/*/result"
        return "runs/* (whole run)"
    if key.startswith("index/"):
        parts = key.split("/")
        return f"index/{parts[1]}" if len(parts) > 2 and parts[1] else "index/"
    if key.startswith("expiries/"):
        return "expiries/"
    return "other"


def requests_by_area(requests: Iterable[tuple[str, str]]) -> Counter[tuple[str, str]]:
    """(method, key) pairs -> counts by (area, method)."""
    return Counter((area_of(key), method) for method, key in requests)


@dataclass(frozen=True)
class PrefixLoad:
    """Requests per second that one key area takes at a given cycle rate, against S3's limit."""

    area: str
    writes_per_s: float
    reads_per_s: float
    spreads: bool  # keys lead with a random run id, so S3 can split the area into partitions

    @property
    def partitions_needed(self) -> int:
        """Partitions S3 must have split the area into to serve the rate (1 if it cannot)."""
        return max(
            1,
            math.ceil(self.writes_per_s / S3_LIMITS.writes),
            math.ceil(self.reads_per_s / S3_LIMITS.reads),
        )

    @property
    def write_share(self) -> float:
        """Share of one partition's write limit: above 1.0 an unsplittable area is throttled."""
        return self.writes_per_s / S3_LIMITS.writes

    @property
    def read_share(self) -> float:
        return self.reads_per_s / S3_LIMITS.reads


def prefix_loads(per_cycle: Mapping[tuple[str, str], float], cycles_per_s: float) -> list[PrefixLoad]:
    """Per-cycle requests by (area, method) -> load per area at ``cycles_per_s``.

    Areas under ``runs/`` spread (run ids are random, so S3 can split them by leading
    characters); ``index/`` and ``expiries/`` keys lead with a timestamp, so every new key lands at
    the end of the range and one partition takes all of them."""
    areas = sorted({area for area, _ in per_cycle})
    loads = []
    for area in areas:
        writes = sum(per_cycle.get((area, m), 0.0) for m in WRITE_METHODS) * cycles_per_s
        reads = sum(per_cycle.get((area, m), 0.0) for m in READ_METHODS) * cycles_per_s
        loads.append(PrefixLoad(area, writes, reads, spreads=area.startswith("runs/")))
    return loads


def combined(loads: Iterable[PrefixLoad], prefix: str) -> PrefixLoad:
    """The load of every area under ``prefix`` together: what S3 must split by run id."""
    under = [x for x in loads if x.area.startswith(prefix)]
    return PrefixLoad(
        f"{prefix} (all)",
        sum(x.writes_per_s for x in under),
        sum(x.reads_per_s for x in under),
        spreads=all(x.spreads for x in under),
    )


def monthly_request_cost(
    per_cycle: Mapping[str, float], cycles_per_s: float, prices: Prices, seconds: int = MONTH_SECONDS
) -> tuple[float, float]:
    """(PUT-tier USD, GET-tier USD) per month for per-cycle request counts by method."""
    cycles = cycles_per_s * seconds
    put = sum(per_cycle.get(m, 0.0) for m in _PUT_TIER) * cycles / 1000 * prices.put_per_1000
    get = sum(per_cycle.get(m, 0.0) for m in _GET_TIER) * cycles / 1000 * prices.get_per_1000
    return put, get


def storage_cost(stored_bytes: float, prices: Prices) -> float:
    """USD per month to keep ``stored_bytes`` in S3 Standard (GB = 10^9 bytes, first tier)."""
    return stored_bytes / 1e9 * prices.gb_month


@dataclass(frozen=True)
class Fleet:
    processes: int  # at the measured per-process throughput
    cores: float  # at the measured CPU per cycle
    partitions: int  # per input topic (requests, resumes)


def fleet(cycles_per_s: float, process_cycles_per_s: float, cpu_ms_per_cycle: float) -> Fleet:
    """Worker processes at the measured throughput of one, cores at the measured CPU per cycle,
    and partitions per input topic: at least one per process (a group member without a
    partition idles), doubled so the group can grow without repartitioning."""
    processes = math.ceil(cycles_per_s / process_cycles_per_s)
    return Fleet(processes, cycles_per_s * cpu_ms_per_cycle / 1000, 2 * processes)
