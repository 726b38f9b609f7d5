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
