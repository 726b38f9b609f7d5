"""The worker's own timers, the expiry sweep and the retry backoff, wait on its injected clock
(issue 20): an hour's sweep interval or a minute's backoff passes on a test's clock in a few
event-loop turns, where they used to be real sleeps behind the clock's back."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from fakeclock import Clock
from harness import Harness
from intermission_schemas import ExpiryPolicy, RunFailed
from test_fault_tolerance import FlakyStore

HOUR = 3600.0


def _run_id() -> str:
    return f"run-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_the_expiry_sweep_waits_its_interval_on_the_worker_clock(harness: Harness) -> None:
    """A pause due in a minute, a worker that sweeps hourly: on the worker's clock the first
    sweep comes an hour on, and expires the pause, within seconds of real time."""
    pausing = await harness.start_worker()
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"], expiry=ExpiryPolicy(after_seconds=60))
    await harness.approval(run_id)
    await pausing.stop()

    clock = Clock(auto=True)
    sweeping = await harness.start_worker(clock=clock, sweep_interval=HOUR)
    started = time.monotonic()
    failed = await harness.result(run_id, RunFailed, within=10)
    await sweeping.stop()
    assert failed.code == "expired"
    assert time.monotonic() - started < 10
    assert clock.elapsed() >= HOUR  # the sweep waited its whole interval, on the clock


async def test_a_record_retried_through_an_outage_backs_off_on_the_worker_clock(harness: Harness) -> None:
    """Backoff of a minute and more between tries: on the worker's clock the record is tried
    again and again while the store is down, and runs once it is back, in seconds of real time."""
    flaky = FlakyStore(harness.backend.store)
    clock = Clock(auto=True)
    worker = await harness.start_worker(store=flaky, clock=clock, retry_delay=60.0, max_backoff=600.0)
    flaky.up.clear()
    run_id = _run_id()
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    started = time.monotonic()
    async with asyncio.timeout(10):
        await flaky.refused_at_least(3)
    assert clock.elapsed() >= 2 * 60.0 * 0.5  # two backoffs, each at least half its delay
    flaky.up.set()
    await harness.approval(run_id)  # the run went on to its pause once the store was back
    await worker.stop()
    assert time.monotonic() - started < 20
    assert harness.dead_letters == []
    # An outage under the first step (its claim is written with the model's first reply) is the
    # worker's fault: the record is tried again, and the run is never failed for it.
    assert not [r for r in harness.results if r.run_id == run_id and isinstance(r, RunFailed)]
