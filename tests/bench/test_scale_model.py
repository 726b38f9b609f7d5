"""The scale model's arithmetic (bench/scale_model.py): key areas, per-prefix loads, costs."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import scale_model
from intermission.service.runs.index import index_key
from intermission.service.runs.keys import expiry_key, journal_claim_key, result_key, snapshot_key


def test_every_key_of_the_layout_falls_in_its_area() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    assert scale_model.area_of(snapshot_key("r", 1)) == "runs/*/snapshots"
    assert scale_model.area_of(journal_claim_key("r", 0)) == "runs/*/journal"
    assert scale_model.area_of(result_key("r")) == "runs/*/result"
    assert scale_model.area_of(index_key("pending", at, "r", 1)) == "index/pending"
    assert scale_model.area_of(index_key("completed", at, "r", 0)) == "index/completed"
    assert scale_model.area_of(expiry_key(at, "r", 1)) == "expiries/"


def test_prefix_loads_scale_per_cycle_counts_and_compare_with_s3_limits() -> None:
    per_cycle = {
        ("runs/*/snapshots", "create"): 1.0,
        ("runs/*/snapshots", "get"): 3.0,
        ("expiries/", "delete"): 1.0,
    }
    loads = {x.area: x for x in scale_model.prefix_loads(per_cycle, 4000)}
    snapshots, expiries = loads["runs/*/snapshots"], loads["expiries/"]
    assert (snapshots.writes_per_s, snapshots.reads_per_s) == (4000, 12000)
    assert snapshots.spreads
    assert not expiries.spreads
    assert snapshots.partitions_needed == 3  # 12,000 reads / 5,500 per partition
    assert expiries.write_share == pytest.approx(4000 / 3500)
    together = scale_model.combined(loads.values(), "runs/")
    assert (together.writes_per_s, together.reads_per_s, together.spreads) == (4000, 12000, True)


def test_monthly_costs_use_the_billing_tiers() -> None:
    prices = scale_model.Prices(put_per_1000=0.005, get_per_1000=0.0004, gb_month=0.023)
    per_cycle = {"create": 2.0, "list": 1.0, "get": 5.0, "delete": 4.0}
    put, get = scale_model.monthly_request_cost(per_cycle, 1.0, prices, seconds=1000)
    assert put == pytest.approx(3 * 1000 / 1000 * 0.005)  # creates and lists; deletes are free
    assert get == pytest.approx(5 * 1000 / 1000 * 0.0004)
    assert scale_model.storage_cost(2e9, prices) == pytest.approx(0.046)


def test_fleet_rounds_processes_up_and_doubles_them_for_partitions() -> None:
    fleet = scale_model.fleet(1000, 49.6, 8.2)
    assert (fleet.processes, fleet.partitions) == (21, 42)
    assert fleet.cores == pytest.approx(8.2)
