"""An outage under a step's journal is the worker's fault, never the run's: a run's first step
writes its claim with the model's first reply, inside the model call, and a store that refuses
that write once must leave the record to be tried again, not fail the run."""

from __future__ import annotations

import uuid

from harness import Harness
from intermission.errors import StoreUnavailableError
from intermission_schemas import RunFailed
from storecount import CountingStore


class RefusesTheFirstClaimOnce(CountingStore):
    refused = 0

    async def create(self, key: str, data: bytes) -> str:
        if key.endswith("/journal/00000000/claim") and not self.refused:
            self.refused += 1
            raise StoreUnavailableError("connection refused (test outage)")
        return await super().create(key, data)


async def test_a_first_step_whose_claim_write_fails_once_is_retried_not_failed(harness: Harness) -> None:
    store = RefusesTheFirstClaimOnce(harness.backend.store)
    worker = await harness.start_worker(store=store)
    run_id = f"outage-{uuid.uuid4().hex[:8]}"
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    await harness.approval(run_id)  # tried again once the store took writes
    await worker.stop()
    assert store.refused == 1
    assert not [r for r in harness.results if r.run_id == run_id and isinstance(r, RunFailed)]
    assert harness.dead_letters == []
