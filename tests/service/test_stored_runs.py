"""The public read side of stored runs (`intermission.stored.StoredRuns`), on memory and on
SeaweedFS: what the inbox, the replay tools and the command line read, with the worker's checks."""

from __future__ import annotations

import uuid

import pytest
from harness import Harness
from intermission.errors import TamperedSnapshotError
from intermission.stored import Sealer, StoredRuns
from intermission_schemas import RunCompleted

SEAL_KEY = b"test-key"


async def test_a_finished_run_reads_back_step_by_step_with_its_audit_and_in_the_index(
    harness: Harness,
) -> None:
    worker = await harness.start_worker(seal_key=SEAL_KEY, run_index=True)
    run_id = f"stored-{uuid.uuid4().hex[:8]}"
    await harness.approved_transfer(run_id)
    await worker.stop()

    runs = StoredRuns(harness.backend.store, Sealer(SEAL_KEY))
    run = await runs.load(run_id)
    assert [s.snapshot_version for s in run.snapshots] == [1]
    assert isinstance(run.outcome, RunCompleted)
    pause = await runs.pause(run_id, 1)
    assert pause is not None
    assert pause.status == "resolved"
    assert await runs.pause(run_id, 2) is None
    result = await runs.result(run_id)
    assert result is not None
    assert result.messages == run.messages
    assert (await runs.audit(run_id)).intact
    page = await runs.list(status="completed", limit=1000)
    assert run_id in {entry.run_id for entry in page.runs}

    # Read with another key, the seal fails: the same error the worker raises.
    with pytest.raises(TamperedSnapshotError) as refused:
        await StoredRuns(harness.backend.store, Sealer(b"another key")).pause(run_id, 1)
    # (the pause or its claim, whichever was read first: both are sealed)
    assert str(refused.value).startswith(f"snapshot 'runs/{run_id}/")
