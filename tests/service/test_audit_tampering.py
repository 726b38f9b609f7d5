"""`audit_run` reports every kind of tampering the worker refuses, on the worker's own checks:
an older copy of a pause put back (a rollback), and an object rewritten and resealed without the
key or with a key not in the ring, wherever in the run it is stored (journal entries included)."""

from __future__ import annotations

import uuid

import pytest
from harness import Harness, approve
from intermission.service import Sealer, audit_run, snapshot_key
from intermission.service.runs.keyring import KeyRing
from intermission.service.runs.keys import journal_prefix
from intermission_schemas import RunCompleted, decode_snapshot

SEAL_KEY = b"test-key"


async def _finished_run(harness: Harness) -> tuple[str, bytes]:
    """A transfer approved and completed; returns its run id and its pause as first stored."""
    worker = await harness.start_worker(seal_key=SEAL_KEY)
    run_id = f"audit-{uuid.uuid4().hex[:8]}"
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    pending = await harness.backend.store.get(snapshot_key(run_id, 1))
    assert pending is not None
    await harness.send(harness.backend.topics.resumes, run_id, approve(run_id, raised.interrupts[0].ref))
    await harness.result(run_id, RunCompleted)
    await worker.stop()
    sealer = Sealer(SEAL_KEY)
    audit = await audit_run(harness.backend.store, sealer, run_id)
    assert audit.intact, audit.problem
    return run_id, pending.data


async def _put(harness: Harness, key: str, data: bytes) -> None:
    stored = await harness.backend.store.get(key)
    assert stored is not None
    await harness.backend.store.replace(key, data, stored.etag)


async def test_a_rolled_back_pause_is_reported(harness: Harness) -> None:
    run_id, pending = await _finished_run(harness)
    key = snapshot_key(run_id, 1)
    sealer = Sealer(SEAL_KEY)
    current = await harness.backend.store.get(key)
    assert current is not None
    # The worker stopped after its step: the stored pause was resolved before it did.
    assert decode_snapshot(sealer.open(key, current.data)).status == "resolved"
    # The older, validly sealed copy put back: seal and chain hold, the status cannot.
    await _put(harness, key, pending)
    audit = await audit_run(harness.backend.store, sealer, run_id)
    assert not audit.intact
    assert "rolled back" in (audit.problem or "")
    assert key in (audit.problem or "")


RESEALS = {
    "no-key": Sealer(None),
    "key-not-in-ring": Sealer(KeyRing({"k9": b"a key this deployment never had"})),
}


@pytest.mark.parametrize("reseal", list(RESEALS), ids=list(RESEALS))
@pytest.mark.parametrize("where", ["pause", "journal"])
async def test_a_rewrite_resealed_without_the_key_is_reported(
    harness: Harness, reseal: str, where: str
) -> None:
    run_id, _ = await _finished_run(harness)
    sealer = Sealer(SEAL_KEY)
    if where == "pause":
        keys = [snapshot_key(run_id, 1)]
    else:  # the model reply and the tool output the worker reads back instead of running again
        keys = [
            *await harness.backend.store.list(journal_prefix(run_id, 0)),
            *await harness.backend.store.list(journal_prefix(run_id, 1)),
        ]
        keys = [k for k in keys if not k.endswith("/claim")]
        assert any("/tool-" in k for k in keys), keys
        assert any("/model-" in k for k in keys), keys
    for key in keys:
        stored = await harness.backend.store.get(key)
        assert stored is not None
        body = sealer.open(key, stored.data)
        await _put(harness, key, RESEALS[reseal].seal(key, body.replace(b"COMPLETED", b"REVERSED")))
        audit = await audit_run(harness.backend.store, sealer, run_id)
        assert not audit.intact, key
        assert key in (audit.problem or "")
        assert "seal" in (audit.problem or "") or "ring" in (audit.problem or "")
        await _put(harness, key, stored.data)  # each entry on its own
