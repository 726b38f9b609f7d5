"""Runs served through a slow or faulty path: submit, answer each pause, count, and time.

Shared by the slow-and-partial-failure tests (test_slow_faults.py) and the skewed-clock test:
each injects its fault, then calls `serve_through`, which asserts 0 lost and 0 repeated
effects and returns the throughput it measured.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from dataclasses import dataclass

from faultkit import Client, Lane, Supervisor, quiesce, stop_approver, tally

__all__ = ["Served", "answer_as_raised", "assert_nothing_lost_or_repeated", "padding", "serve_through"]


@dataclass(frozen=True)
class Served:
    runs: int
    seconds: float  # from the first submit until every run settled and all input was committed
    slowest_run_s: float  # the longest time from a run's submit to its outcome

    @property
    def throughput(self) -> float:
        return self.runs / self.seconds


def padding(size: int) -> str:
    """``size`` bytes of incompressible text with no spaces: a prompt that makes each sealed
    snapshot about that large, since snapshots are compressed."""
    return base64.b64encode(os.urandom(size))[:size].decode()


def _kills_at(lane: Lane, point: str) -> int:
    kills = lane.state / "kills.jsonl"
    lines = kills.read_text().splitlines() if kills.exists() else []
    return sum(1 for line in lines if json.loads(line)["point"] == point)


def assert_nothing_lost_or_repeated(
    client: Client, lane: Lane, ids: list[str], sent: dict[str, set[str]], logs: str
) -> None:
    t = tally(lane, client, ids, sent)
    print(t.line(len(ids), 0))
    print(t.details())
    assert t.lost == [], f"{t.details()}\n{logs}"
    assert t.failed == [], f"{t.details()}\n{logs}"
    assert t.dead_letters == 0, f"{t.details()}\n{logs}"
    assert t.answers_without_outcome == [], f"{t.details()}\n{logs}"
    assert t.finished_calls_repeated == 0, f"{t.details()}\n{logs}"
    assert t.idempotent_effects_repeated == 0, f"{t.details()}\n{logs}"
    # A worker killed between a tool's effect and its journal write may run the call again
    # (under the same idempotency key, so the effect applies once); nothing else may.
    assert t.transfers_issued_twice <= _kills_at(lane, "after_tool_effect"), f"{t.details()}\n{logs}"
    assert t.pauses_applied_more_than_once == [], f"{t.details()}\n{logs}"
    assert t.applied_answers_rejected == [], f"{t.details()}\n{logs}"


def _answers(run_id: str, race: bool) -> dict[str, str]:
    """Resume id -> status: an approval, and with `race` a rejection sent at the same time."""
    return {f"approve-{run_id}": "APPROVED", **({f"reject-{run_id}": "REJECTED"} if race else {})}


async def answer_as_raised(client: Client, runs: set[str], answered: set[str], *, race: bool) -> None:
    """Answers each run's pause as soon as it is raised: once, or twice at once when `race`
    (two people answering the same pause; exactly one answer may apply)."""
    while True:
        await client.wait_for(lambda: bool((client.paused() & runs) - answered), within=1.0)
        for run_id in sorted((client.paused() & runs) - answered):
            answered.add(run_id)
            await asyncio.gather(
                *(client.answer(run_id, rid, status) for rid, status in _answers(run_id, race).items())
            )


async def serve_through(
    lane: Lane,
    label: str,
    runs: int,
    *,
    workers: list[Supervisor] | None = None,
    pad: int = 0,
    race: bool = False,
    settle_within: float = 150.0,
) -> Served:
    """Submit `runs` transfer runs at once to one worker (or `workers`), answer each pause as
    it is raised, wait until all are settled and committed, then assert that nothing was lost
    or repeated. Prints and returns the throughput."""
    await lane.create_topics()
    ids = [f"run-{lane.name}-{i}" for i in range(runs)]
    answered: set[str] = set()
    submitted: dict[str, float] = {}
    supervisors = workers or [Supervisor(lane, 1)]
    async with Client(lane) as client:
        for supervisor in supervisors:
            await supervisor.start()
        answering = answer_as_raised(client, set(ids), answered, race=race)
        approver = asyncio.create_task(answering)
        started = time.monotonic()
        try:
            for run_id in ids:
                text = f"transfer {padding(pad)} {run_id}" if pad else f"transfer {run_id}"
                await client.submit(run_id, text)
                submitted[run_id] = time.monotonic()
            await quiesce(lane, client, set(ids), within=settle_within)
            now = time.monotonic()
            slowest = max((client.first_seen.get(r, now) - at for r, at in submitted.items()), default=0.0)
            served = Served(runs, time.monotonic() - started, slowest)
        finally:
            died = await stop_approver(approver)
            for supervisor in supervisors:
                await supervisor.stop()
        if died is not None:
            raise died
        logs = "\n".join(supervisor.logs() for supervisor in supervisors)
        assert sorted(answered) == sorted(ids), f"{len(ids) - len(answered)} runs never paused\n{logs}"
        sent = {r: set(_answers(r, race)) for r in answered}
        assert_nothing_lost_or_repeated(client, lane, ids, sent, logs)
    restarts = sum(supervisor.restarts for supervisor in supervisors)
    crashes = [code for supervisor in supervisors for code in supervisor.failures]
    print(
        f"[{label}] {runs} runs settled in {served.seconds:.1f} s: {served.throughput:.2f} runs/s "
        f"slowest run {served.slowest_run_s:.1f} s (restarts {restarts}, crashes {crashes})"
    )
    assert crashes == [], f"workers crashed: {crashes}\n{logs}"
    return served
