"""Replay judges a run by what happened: the seed's samples, recorded and replayed in-process.

Issue 19 (1): approval-gated tools (answered by restart) were replayed with their recorded
output on the first call, so the replay never paused and every run came out "recorded answer
not asked for". The replay now pauses where the original paused.
"""

from __future__ import annotations

import functools

import pytest
import seed_app
from intermission import Intermission, UsageError
from intermission.replay import Replay
from intermission.service import Sealer
from intermission.service.adapters.local import LocalSnapshotStore
from intermission.testing import ServiceHarness
from seed_app import RUNS, kind, record


async def test_the_same_app_replays_every_seed_run_as_the_same(tmp_path: object) -> None:
    async with ServiceHarness(seed_app.ai) as service:
        ids = await record(service)
        transfers = len(seed_app.TRANSFERS)
        target = LocalSnapshotStore(f"{tmp_path}/same")
        replay = Replay(
            source=service.store, sealer=Sealer(None), ai=seed_app.ai, target=target, label="same"
        )
        summary = await replay.run(ids)
        assert [(r.run_id, r.reasons) for r in summary.reports if not r.same] == []
        assert len(summary.reports) == RUNS
        assert all(r.answers_applied == 1 for r in summary.reports)
        # Gated transfers paused again and got the recorded outcome; none ran for real.
        assert sum(r.effects_replayed for r in summary.reports) == 3 * RUNS // 4
        assert len(seed_app.TRANSFERS) == transfers

        changed = Replay(
            source=service.store,
            sealer=Sealer(None),
            ai=seed_app.ai,
            target=LocalSnapshotStore(f"{tmp_path}/changed"),
            label="changed",
            model="changed",
        )
        differing = (await changed.run(ids)).differing
        assert {r.run_id for r in differing} == {f"seed-{n}" for n in range(RUNS) if seed_app.changes(n)}
        for report in differing:
            if kind(int(report.run_id.split("-")[1])) == "question":
                # Another film offered: a question the original never asked, left unanswered.
                assert report.replayed == "stopped"
                assert any("never did: askQuestion" in reason for reason in report.reasons)
            else:
                # Another amount: a transfer the original never made, blocked (no effects).
                assert report.replayed == "failed"
                assert len(report.blocked) == 1, report.reasons
        assert len(seed_app.TRANSFERS) == transfers


async def test_misuse_is_a_usage_error_that_names_the_fix(tmp_path: object) -> None:
    # Issue 19 (4): a Tool handed to define_tool failed with AttributeError ('__name__').
    app = Intermission()
    [tool] = [seed_app.ai.tool("transferMoney")]
    with pytest.raises(UsageError, match="give define_tool its async function"):
        app.define_tool(tool)
    with pytest.raises(UsageError, match="must be an async function"):
        app.define_tool(functools.partial(print))  # type: ignore[arg-type]
    store = LocalSnapshotStore(f"{tmp_path}/misuse")
    with pytest.raises(UsageError, match="pass the app"):
        Replay(source=store, sealer=Sealer(None), ai=object(), target=store, label="x")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="label"):
        Replay(source=store, sealer=Sealer(None), ai=app, target=store, label="a/b")
