"""What one cycle costs in store requests, by kind, on memory and on Kafka + SeaweedFS (issue 20).

A cycle: GenerateRequest -> InterruptRaised -> an approved ResumeRequested -> RunCompleted, with
a tool that runs once approved. It cost 17 requests on main at cd24565. A new request now creates
its first step's claim before anything else, and a claim that is the run's first object proves
nothing else of it is stored, so the request's two lookups and its journal listing are gone; an
answer to a pending pause lists no journal, since that step has not begun; the run index's three
markers are written only when the workers keep the index (`Settings.run_index`, off by default).
This test keeps the count where it is, so a change that adds a request says so here.
"""

from __future__ import annotations

import uuid
from collections import Counter

import pytest
from harness import Harness
from storecount import CountingStore

# run index kept -> (the cycle's requests by method, the request step's), as stored today
CYCLE: dict[bool, tuple[dict[str, int], dict[str, int]]] = {
    # the first step's claim with its model reply, the pause; the pause read, its claim, the
    # tool's output, the result
    False: ({"create": 5, "get": 1}, {"create": 2}),
    # and the pending marker, the end's marker and the pending marker's delete
    True: ({"create": 7, "get": 1, "delete": 1}, {"create": 3}),
}


@pytest.mark.parametrize("run_index", [False, True], ids=["default", "run-index"])
async def test_a_cycle_makes_six_store_requests_and_three_more_with_the_run_index(
    harness: Harness, run_index: bool
) -> None:
    cycle, request_step = CYCLE[run_index]
    counted = CountingStore(harness.backend.store)
    worker = await harness.start_worker(store=counted, run_index=run_index)
    run_id = f"cycle-{uuid.uuid4().hex[:8]}"
    await harness.approved_transfer(run_id)
    await worker.stop()  # the after-result writes (pause resolved, index marker) are done
    calls = dict(counted.calls)
    # The request step reads nothing: its requests are those before the answer's first read.
    first_read = next(n for n, (method, _) in enumerate(counted.requests) if method == "get")
    made = Counter(method for method, _ in counted.requests[:first_read])
    print(f"request step {dict(made)}; cycle {calls}, {counted.total()} requests")
    print("\n".join(f"  {m} {k}" for m, k in counted.requests))
    assert dict(made) == request_step, counted.requests
    assert calls == cycle, counted.requests
    assert not any(method == "list" for method, _ in counted.requests), "a cycle lists nothing"
