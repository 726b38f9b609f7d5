"""The expiry sweep's cost follows the pauses that are due, not the pauses still waiting.

10,000 outstanding deadline markers sit beside three due pauses; the sweep that expires the three
makes one listing request, on the in-memory backend and on real SeaweedFS alike.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from fakeclock import Clock
from harness import Harness
from intermission.service.runs.keys import expiry_key
from intermission_schemas import ExpiryPolicy, RunFailed
from storecount import CountingStore

OUTSTANDING = 10_000
DUE = 3


async def _outstanding_markers(harness: Harness, after: datetime) -> None:
    slots = asyncio.Semaphore(64)
    store = harness.backend.store

    async def one(i: int) -> None:
        async with slots:
            await store.create(expiry_key(after + timedelta(seconds=i), f"waiting-{i:05d}", 1), b"")

    await asyncio.gather(*(one(i) for i in range(OUTSTANDING)))


async def _sweep_counting(harness: Harness, clock: Clock) -> tuple[int, CountingStore]:
    store = CountingStore(harness.backend.store)
    return await harness.runs(clock=clock, store=store).sweep_expired(), store


async def test_a_sweep_lists_once_however_many_pauses_are_outstanding(harness: Harness) -> None:
    clock = Clock()
    worker = await harness.start_worker(clock=clock)
    run_ids = [f"due-{uuid.uuid4().hex[:8]}" for _ in range(DUE)]
    for run_id in run_ids:
        await harness.submit(
            run_id, "transfer", tools=["transferMoney"], expiry=ExpiryPolicy(after_seconds=60)
        )
    for run_id in run_ids:
        await harness.approval(run_id)
    await _outstanding_markers(harness, after=clock.now + timedelta(days=1))

    swept, idle = await _sweep_counting(harness, clock)
    assert swept == 0
    assert idle.calls == {"list_page": 1}  # nothing due: the first marker is in the future

    clock.now += timedelta(minutes=2)
    swept, due = await _sweep_counting(harness, clock)
    assert swept == DUE
    assert due.calls["list_page"] == 1
    assert due.calls["list"] == 0  # a full listing would be ten requests at 10,000 markers
    # Every other request is about one of the due pauses: a read, a replace, marker deletes.
    assert due.total() - 1 <= 8 * DUE, due.calls
    for run_id in run_ids:
        assert (await harness.result(run_id, RunFailed)).code == "expired"
    await worker.stop()
    assert len(await harness.backend.store.list("expiries/")) == OUTSTANDING
