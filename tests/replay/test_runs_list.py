"""`runs list` over 10,000 stored runs on real SeaweedFS, counting the S3 requests it makes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from conftest import cli_env
from intermission.cli import app
from intermission.errors import SettingsError
from intermission.replay import list_runs
from intermission.service import Sealer, Topics
from intermission.service.adapters.s3 import S3SnapshotStore
from intermission.service.runs.index import RunIndex
from intermission.service.runs.snapshots import Snapshots
from intermission_schemas import RunCompleted, RunFailed, RunResult
from realservices.plugin import S3Bucket
from storecount import CountingStore
from typer.testing import CliRunner

pytestmark = pytest.mark.s3

STORED = 10_000
PER_DAY = 1_000
BASE = datetime(2026, 11, 1, tzinfo=UTC)


def _end(i: int) -> tuple[RunResult, datetime]:
    """Run i: day i // 1000; a quarter failed; every tenth tagged team=blue."""
    run_id = f"run-{i:05d}"
    at = BASE + timedelta(days=i // PER_DAY, seconds=i % PER_DAY)
    tags = {"team": "blue" if i % 10 == 0 else "red"}
    end: RunCompleted | RunFailed = (
        RunFailed(run_id=run_id, code="tool_error", message="boom", tags=tags)
        if i % 4 == 0
        else RunCompleted(run_id=run_id, text="ok", finish_reason="stop", tags=tags)
    )
    return RunResult(run_id=run_id, completed=end, finished_at=at), at


async def _store_runs(store: S3SnapshotStore, *, indexed: bool = True, count: int = STORED) -> None:
    snapshots = Snapshots(store, Sealer(b"test-key"), index=RunIndex(store) if indexed else None)
    slots = asyncio.Semaphore(64)

    async def one(i: int) -> None:
        async with slots:
            await snapshots.create_result(_end(i)[0])  # the result, then its index marker

    await asyncio.gather(*(one(i) for i in range(count)))


def _store(s3_bucket: S3Bucket, prefix: str) -> S3SnapshotStore:
    return S3SnapshotStore(
        bucket=s3_bucket.name,
        prefix=prefix,
        endpoint_url=s3_bucket.endpoint_url,
        region=s3_bucket.region,
        access_key=s3_bucket.access_key,
        secret_key=s3_bucket.secret_key,
    )


async def test_listing_runs_that_no_worker_indexed_names_the_setting_instead_of_an_empty_page(
    s3_bucket: S3Bucket,
) -> None:
    # An empty bucket lists as empty: nothing is stored, so nothing is missing.
    empty = await list_runs(_store(s3_bucket, "unindexed/"), limit=10)
    assert empty.runs == []
    assert empty.next_cursor is None
    # Runs stored by workers without the index (the default): an empty page would say "no
    # runs", which is false. The listing names the setting that writes the index instead.
    await _store_runs(_store(s3_bucket, "unindexed/"), indexed=False, count=3)
    with pytest.raises(SettingsError, match="INTERMISSION_RUN_INDEX"):
        await list_runs(_store(s3_bucket, "unindexed/"), status="completed", limit=10)
    env = cli_env(s3_bucket, "127.0.0.1:1", Topics(), prefix="unindexed/")
    result = await asyncio.to_thread(CliRunner().invoke, app, ["runs", "list"], env=env)
    assert result.exit_code == 2, result.output
    assert "INTERMISSION_RUN_INDEX=true" in " ".join(result.output.split())
    # A run is still read by its id.
    shown = await asyncio.to_thread(CliRunner().invoke, app, ["runs", "show", "run-00001"], env=env)
    assert shown.exit_code == 0, shown.output


async def test_runs_list_over_10000_stored_runs_costs_a_bounded_number_of_requests(
    s3_bucket: S3Bucket,
) -> None:
    inner = _store(s3_bucket, "it/")
    await _store_runs(inner)
    store = CountingStore(inner)
    day3, day4 = BASE + timedelta(days=3), BASE + timedelta(days=4)

    # Failed runs of day 3 (250 of the 10,000), 50 a page: one LIST request a page, no reads.
    page = await list_runs(store, status="failed", since=day3, until=day4, limit=50)
    assert store.calls == Counter(list_page=1)
    assert len(page.runs) == 50
    assert page.runs[0].run_id == "run-03000"
    assert all(e.status == "failed" and day3 <= e.at < day4 for e in page.runs)
    assert page.next_cursor is not None

    # Paging on through the day: 100 a page, 250 runs, three pages, three requests.
    store.calls.clear()
    found, after = [], ""
    while True:
        page = await list_runs(store, status="failed", since=day3, until=day4, limit=100, after=after)
        found += page.runs
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert [e.run_id for e in found] == [f"run-{i:05d}" for i in range(3000, 4000, 4)]
    assert store.calls == Counter(list_page=3)

    # The last day's page costs the same as the first: StartAfter jumps over the 9,000 before.
    store.calls.clear()
    late = await list_runs(store, status="completed", since=BASE + timedelta(days=9), limit=500)
    assert store.calls == Counter(list_page=1)
    assert late.runs[0].run_id == "run-09001"
    assert len(late.runs) == 500

    # A tag filter reads keys only: 20 blue completed runs from day 5 come from one page.
    store.calls.clear()
    blue = await list_runs(
        store, status="completed", since=BASE + timedelta(days=5), tags={"team": "blue"}, limit=20
    )
    assert [e.run_id for e in blue.runs] == [f"run-{i:05d}" for i in range(5010, 5410, 20)]
    assert store.calls == Counter(list_page=1)

    # Every status, no filter: one request per status the page reaches.
    store.calls.clear()
    anything = await list_runs(store, limit=10)
    assert [e.status for e in anything.runs] == ["completed"] * 10
    assert store.calls == Counter(list_page=2)  # "pending" is empty, "completed" fills the page

    # The command prints the same page.
    env = cli_env(s3_bucket, "127.0.0.1:1", Topics())
    args = ["runs", "list", "--status", "failed", "--since", day3.isoformat(), "--limit", "3"]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
    assert result.exit_code == 0, result.output
    assert "run-03000" in result.output
    assert "run-03008" in result.output
    assert "run-03012" not in result.output
    assert "next page: --after index/failed/" in " ".join(result.output.split())
