"""50 stored runs with human answers, replayed against a second model (real Kafka + SeaweedFS).

The runs are recorded by the production worker on Kafka and S3; the replay runs in-process on
an in-memory log and a separate prefix of the same bucket, so no live topic sees it.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import replay_app
from conftest import TOOLS, answer, cli_env
from harness import Harness
from intermission.cli import app
from intermission.replay import REPLAY_OF, Replay, list_runs, load_run
from intermission.service import Sealer
from intermission.service.adapters.s3 import S3SnapshotStore
from intermission_schemas import RunCompleted
from realservices.plugin import S3Bucket
from typer.testing import CliRunner

pytestmark = [pytest.mark.kafka, pytest.mark.s3]

RUNS = 50
SIZES = ["S", "M", "L"]
SEALER = Sealer(b"test-key")


def scratch(bucket: S3Bucket, prefix: str) -> S3SnapshotStore:
    return S3SnapshotStore(
        bucket=bucket.name,
        prefix=prefix,
        endpoint_url=bucket.endpoint_url,
        region=bucket.region,
        access_key=bucket.access_key,
        secret_key=bucket.secret_key,
    )


def replayer(harness: Harness, target: S3SnapshotStore, label: str, **options: Any) -> Replay:
    """A replay of the harness's stored runs with the test app, into ``target``."""
    return Replay(
        source=harness.backend.store, sealer=SEALER, ai=replay_app.ai, target=target, label=label, **options
    )


async def record_runs(harness: Harness, count: int, prefix: str = "order") -> list[str]:
    """``count`` runs through the real worker, each answered by a person."""
    worker = await harness.start_worker(run_index=True)
    ids = [f"{prefix}-{n}" for n in range(count)]
    try:
        for n, run_id in enumerate(ids):
            await harness.submit(run_id, f"order {n}", tools=TOOLS)

        async def answered(n: int, run_id: str) -> None:
            await answer(harness, run_id, SIZES[n % 3], ["alice", "bob"][n % 2])
            await harness.result(run_id, RunCompleted)

        await asyncio.gather(*(answered(n, run_id) for n, run_id in enumerate(ids)))
    finally:
        await worker.stop()
    return ids


async def test_replay_against_a_second_model_marks_exactly_the_runs_that_differ(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    ids = await record_runs(harness, RUNS)
    assert len(replay_app.EFFECTS) >= RUNS  # the originals sent their emails
    effects_before = len(replay_app.EFFECTS)
    page = await list_runs(harness.backend.store, status="completed", limit=100)
    assert {e.run_id for e in page.runs} == set(ids)

    target = scratch(s3_bucket, "replays/")
    replay = replayer(harness, target, "second-model", model="second", concurrency=8)
    seen: list[object] = []
    summary = await replay.run(ids, on_progress=seen.append)
    assert len(seen) == RUNS
    assert summary.skipped == []
    by_run = {r.run_id: r for r in summary.reports}
    assert set(by_run) == set(ids)

    expected_different = {f"order-{n}" for n in range(RUNS) if n % 5 in (0, 1)}
    assert {r.run_id for r in summary.differing} == expected_different
    for n in range(RUNS):
        report = by_run[f"order-{n}"]
        assert report.replay_run_id == f"order-{n}.rp-second-model"
        if n % 5 == 0:
            # A question the original never asked: not answered, the replay stops there.
            assert report.replayed == "stopped"
            assert report.new_questions == [
                {"tool": "askQuestion", "input": {"question": "Which colour?", "choices": ["red", "blue"]}}
            ]
            assert any("never did: askQuestion" in reason for reason in report.reasons)
            assert "tool calls differ" in report.reasons
        elif n % 5 == 1:
            assert report.reasons == ["final text differs"]
            assert report.answers_applied == 1
            assert f"Size {SIZES[n % 3]} is on its way" in report.text_diff
        else:
            assert report.same, report.reasons
            assert report.replayed_text == f"Ordered size {SIZES[n % 3]} for {10 + n} EUR."
            assert report.answers_applied == 1
            assert report.effects_replayed == 1  # sendEmail: the recorded output, not a new email

    # No tool effect without allow_effects; the replay-safe lookup did run again.
    assert len(replay_app.EFFECTS) == effects_before
    # Isolated: the replayed runs live under the replay's prefix, linked to their originals,
    # and nothing was written under the live prefix.
    replayed = await load_run(target, Sealer(None), "order-2.rp-second-model")
    assert replayed.request.tags[REPLAY_OF] == "order-2"
    assert [a.answered_by for a in replayed.answers()] == ["alice"]
    assert await harness.backend.store.list("runs/order-2.rp-") == []

    # A second invocation skips them all.
    again = await replay.run(ids)
    assert again.reports == []
    assert sorted(again.skipped) == sorted(ids)
    assert len(await replay.reports()) == RUNS

    # From a chosen pause: the replay starts at the original's first pause (its question is
    # the original's, so n % 5 == 0 no longer differs) and only the continuation is re-run.
    from_pause = replayer(harness, target, "from-pause", model="second", from_version=1)
    resumed = await from_pause.run(ids[:3])
    assert [(r.run_id, r.same) for r in resumed.reports] == [
        ("order-0", True),
        ("order-1", False),
        ("order-2", True),
    ]
    assert resumed.reports[1].reasons == ["final text differs"]
    assert len(replay_app.EFFECTS) == effects_before

    # With effects allowed, the email tool runs for real.
    effects = replayer(harness, target, "with-effects", allow_effects=True)
    allowed = await effects.run(ids[2:5])
    assert all(r.same for r in allowed.reports), [r.reasons for r in allowed.reports]
    assert len(replay_app.EFFECTS) == effects_before + 3


async def test_replay_command_writes_a_table_and_jsonl_and_resumes(
    harness: Harness, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    ids = await record_runs(harness, 6, prefix="cli")
    env = cli_env(s3_bucket, harness.backend.bootstrap, harness.backend.topics)
    out = tmp_path / "report.jsonl"
    html = tmp_path / "report.html"
    args = ["replay", *ids, "--label", "cli", "--model", "second", "--out", str(out), "--concurrency", "3",
            "--report", str(html)]  # fmt: skip
    effects_before = len(replay_app.EFFECTS)

    def invoke() -> object:
        return CliRunner().invoke(app, args, env=env)

    first = await asyncio.to_thread(invoke)
    assert first.exit_code == 0, first.output  # type: ignore[attr-defined]
    output = " ".join(first.output.split())  # type: ignore[attr-defined]
    assert "3 same, 3 different, 0 skipped" in output, output
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert {line["runId"] for line in lines if not line["same"]} == {"cli-0", "cli-1", "cli-5"}
    page = html.read_text(encoding="utf-8")  # next to the JSONL: the same reports as a page
    assert "<strong>3</strong> same" in page
    assert all(f'id="cli-{n}"' in page for n in (0, 1, 5))
    assert len(replay_app.EFFECTS) == effects_before
    second = await asyncio.to_thread(invoke)
    assert second.exit_code == 0, second.output  # type: ignore[attr-defined]
    output = " ".join(second.output.split())  # type: ignore[attr-defined]
    assert "0 same, 0 different, 6 skipped" in output, output
    assert len(out.read_text().splitlines()) == 6
