"""`audit_run` reports every kind of tampering the worker refuses, on the worker's own checks:
an older copy of a pause put back or its claim removed (a rollback), a claim that is not a copy
of its pause, and an object rewritten and resealed without the
key or with a key not in the ring, wherever in the run it is stored (journal entries included)."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from harness import Harness, approve
from intermission.service import Sealer, audit_run, snapshot_key
from intermission.service.runs.keyring import KeyRing
from intermission.service.runs.keys import claim_key, journal_prefix
from intermission_schemas import RunCompleted, decode_snapshot, encode_snapshot

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
    # A pause one answer settles is never rewritten: its answer created its claim beside it, so
    # no copy put back can undo the answer. What is left to undo is the claim: removed, the
    # pause reads pending again under its stored next step.
    current = await harness.backend.store.get(key)
    assert current is not None
    assert current.data == pending
    claim = claim_key(run_id, 1)
    stored_claim = await harness.backend.store.get(claim)
    assert stored_claim is not None
    assert decode_snapshot(sealer.open(claim, stored_claim.data)).status == "resuming"
    await harness.backend.store.delete(claim)
    audit = await audit_run(harness.backend.store, sealer, run_id)
    assert not audit.intact
    assert "rolled back" in (audit.problem or "")
    assert key in (audit.problem or "")


async def test_a_claim_that_is_not_a_copy_of_its_pause_is_reported(harness: Harness) -> None:
    run_id, _ = await _finished_run(harness)
    sealer = Sealer(SEAL_KEY)
    claim = claim_key(run_id, 1)
    stored = await harness.backend.store.get(claim)
    assert stored is not None
    taken = decode_snapshot(sealer.open(claim, stored.data))
    # Sealed with the key (someone holding it, or a bug): the claim's pause differs from the
    # stored pause, which the worker refuses before deciding anything on it.
    forged = msgspec.structs.replace(taken, expires_at=taken.created_at)
    await _put(harness, claim, sealer.seal(claim, encode_snapshot(forged)))
    audit = await audit_run(harness.backend.store, sealer, run_id)
    assert not audit.intact
    assert "not a copy" in (audit.problem or "")
    assert claim in (audit.problem or "")


RESEALS = {
    "no-key": Sealer(None),
    "key-not-in-ring": Sealer(KeyRing({"k9": b"a key this deployment never had"})),
}


@pytest.mark.parametrize("reseal", list(RESEALS), ids=list(RESEALS))
@pytest.mark.parametrize("where", ["pause", "claim", "journal"])
async def test_a_rewrite_resealed_without_the_key_is_reported(
    harness: Harness, reseal: str, where: str
) -> None:
    run_id, _ = await _finished_run(harness)
    sealer = Sealer(SEAL_KEY)
    if where == "pause":
        keys = [snapshot_key(run_id, 1)]
    elif where == "claim":
        keys = [claim_key(run_id, 1)]
    else:  # the model reply and the tool output the worker reads back instead of running again
        # (the first step's model reply is written with that step's claim)
        keys = [
            *await harness.backend.store.list(journal_prefix(run_id, 0)),
            *await harness.backend.store.list(journal_prefix(run_id, 1)),
        ]
        assert any("/tool-" in k for k in keys), keys
        assert f"{journal_prefix(run_id, 0)}claim" in keys, keys
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
