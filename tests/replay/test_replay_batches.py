"""Replay at scale, CI-sized: runs in batches (each on a log and worker of its own), progress
per run, and an interrupted replay resumed by a second invocation. bench/replay_scale.py is the
10,000-run measurement on SeaweedFS."""

from __future__ import annotations

from pathlib import Path

import pytest
import seed_app
from intermission.replay import Replay, ReplayReport
from intermission.service import Sealer
from intermission.service.adapters.local import LocalSnapshotStore
from intermission.testing import ServiceHarness
from seed_app import RUNS, record
from storecount import CountingStore


class Stop(Exception):
    pass


async def test_batches_report_progress_and_an_interrupted_replay_resumes(tmp_path: Path) -> None:
    async with ServiceHarness(seed_app.ai) as service:
        ids = await record(service)
        target = LocalSnapshotStore(tmp_path / "target")

        def replay() -> Replay:
            return Replay(
                source=service.store,
                sealer=Sealer(None),
                ai=seed_app.ai,
                target=target,
                label="batched",
                concurrency=3,
                batch=5,  # 16 runs: four batches, the last one short
            )

        seen: list[ReplayReport | None] = []

        def stop_after_seven(report: ReplayReport | None) -> None:
            seen.append(report)
            if len(seen) == 7:
                raise Stop  # the process dies mid-way: 7 reports stored, the rest not

        with pytest.raises(Stop):
            await replay().run(ids, on_progress=stop_after_seven)
        stored = await replay().done()
        assert len(stored) >= 7

        progress: list[ReplayReport | None] = []
        # keep_same=False: the summary holds what differs (nothing), so memory stays flat.
        summary = await replay().run(ids, on_progress=progress.append, keep_same=False)
        assert len(progress) == RUNS  # one call per run: None for each skipped one
        assert sorted(summary.skipped) == sorted(stored)
        assert summary.reports == []
        assert summary.replayed == summary.same == RUNS - len(stored)
        every = await replay().reports()
        assert sorted(r.run_id for r in every) == sorted(ids)
        assert [r.run_id for r in every if not r.same] == []


async def test_a_replay_counted_as_the_benchmark_counts_it_keeps_no_request_per_run(tmp_path: Path) -> None:
    """bench/replay_scale.py counts S3 requests around a replay of 10,000 runs: the counts must
    not keep a (method, key) per request, which grew its resident memory ~4 KB per run."""
    async with ServiceHarness(seed_app.ai) as service:
        ids = await record(service)
        source = CountingStore(service.store, keep_requests=False)
        target = CountingStore(LocalSnapshotStore(tmp_path / "target"), keep_requests=False)
        replay = Replay(
            source=source, sealer=Sealer(None), ai=seed_app.ai, target=target, label="counted", batch=5
        )
        summary = await replay.run(ids, keep_same=False)
        assert summary.same == RUNS
        assert source.total() >= RUNS
        assert target.total() >= RUNS
        # Kept, they were ~25 requests and ~3.7 KB per replayed run (measured on these 16 runs).
        assert source.requests == target.requests == []
