"""What one cycle costs in store requests, by kind, on memory and on Kafka + SeaweedFS (issue 20).

A cycle: GenerateRequest -> InterruptRaised -> an approved ResumeRequested -> RunCompleted, with
a tool that runs once approved. It cost 17 requests on main at cd24565. A new request now creates
its first step's claim before anything else, and a claim that is the run's first object proves
nothing else of it is stored, so the request's two lookups and its journal listing are gone; an
answer to a pending pause lists no journal, since that step has not begun. This test keeps the
count where it is, so a change that adds a request says so here.
"""

from __future__ import annotations

import uuid
from collections import Counter

from harness import Harness
from storecount import CountingStore

# method -> requests, for the cycle as it is stored today
CYCLE: dict[str, int] = {"create": 7, "get": 3, "replace": 2, "delete": 1}
REQUEST_STEP: dict[str, int] = {"create": 4}  # claim, model reply, pause, pending index marker


async def test_a_cycle_makes_thirteen_store_requests(harness: Harness) -> None:
    counted = CountingStore(harness.backend.store)
    worker = await harness.start_worker(store=counted)
    run_id = f"cycle-{uuid.uuid4().hex[:8]}"
    await harness.approved_transfer(run_id)
    await worker.stop()  # the after-result writes (pause resolved, index marker) are done
    calls = dict(counted.calls)
    # The request step reads nothing: its requests are those before the answer's first read.
    first_read = next(n for n, (method, _) in enumerate(counted.requests) if method == "get")
    request_step = Counter(method for method, _ in counted.requests[:first_read])
    print(f"request step {dict(request_step)}; cycle {calls}, {counted.total()} requests")
    print("\n".join(f"  {m} {k}" for m, k in counted.requests))
    assert dict(request_step) == REQUEST_STEP, counted.requests
    assert calls == CYCLE, counted.requests
    assert not any(method == "list" for method, _ in counted.requests), "a cycle lists nothing"
