"""SIGKILL a worker at each point of its work, and add and remove workers while answers race:
no run is lost, no finished tool call runs again, no keyed effect happens twice, each pause is
applied once, and no applied answer is also rejected.

Workers are real processes (worker_process.py runs `intermission worker`); a supervisor
restarts a killed one as a Deployment would. Each kill point has its own lane (topics, group,
prefix), so the lanes run side by side on the shared broker and SeaweedFS.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest
from faultkit import (
    Client,
    Lane,
    Supervisor,
    WorkerProcess,
    approve_as_raised,
    quiesce,
    stop_approver,
    takeover_consumer_options,
    tally,
)
from realservices import KafkaService
from realservices.plugin import S3Bucket

RUNS_PER_POINT = 6
# Occurrences (counted across the lane's workers) at which the worker kills itself. Per run:
# 3 model calls, 3 tool effects, about 4 store writes, 2 publishes, 2 commits; the kills fall
# both while requests are handled and while resumes are.
KILLS = {
    "after_model": "after_model:4,13",
    "after_tool_effect": "after_tool_effect:5,14",
    "after_snapshot_write": "after_snapshot_write:3,10,19",
    "after_publish": "after_publish:3,9",
    # Commits coalesce: a record that finishes behind a slower one of its partition is committed
    # with it. A lane commits at least once for its requests and once for its answers, so a 2nd
    # commit always comes (a 4th did not, once, on a busy machine, and the point killed nothing).
    "before_commit": "before_commit:2,5",
}
# A lane whose runs all settle takes about 20 s on an idle machine; each restart costs an import,
# the start-up checks, a group join and up to a claim lease, so leave room for a busy one.
SETTLE_S = 150.0


LaneResult = tuple[Lane, Client, set[str], dict[str, set[str]], Supervisor]


async def _kill_lane(lane: Lane, kill: str, options: dict[str, object]) -> LaneResult:
    await lane.create_topics()
    runs = {f"run-{lane.name}-{i}" for i in range(RUNS_PER_POINT)}
    answered: set[str] = set()
    supervisor = Supervisor(lane, 1, kill=[kill], consumer_options=options)
    client = Client(lane)
    await client.__aenter__()
    await supervisor.start()
    approver = asyncio.create_task(approve_as_raised(client, runs, answered))
    try:
        for run_id in sorted(runs):
            await client.submit(run_id, f"transfer {run_id}")
        await quiesce(lane, client, runs, within=SETTLE_S)
    finally:
        died = await stop_approver(approver)
        await supervisor.stop()
    if died is not None:
        raise died
    return lane, client, runs, {r: {f"approve-{r}"} for r in answered}, supervisor


@pytest.mark.kafka
@pytest.mark.s3
async def test_sigkill_at_each_point_loses_and_repeats_nothing(
    kafka_service: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    options = takeover_consumer_options(kafka_service)
    started = time.monotonic()
    lanes = await asyncio.gather(
        *(
            _kill_lane(Lane(kafka_service.bootstrap_servers, s3_bucket, tmp_path / point), kill, options)
            for point, kill in KILLS.items()
        )
    )
    tallies = []
    try:
        for lane, client, runs, sent, supervisor in lanes:
            t = tally(lane, client, runs, sent)
            tallies.append(t)
            point = next(p for p, k in KILLS.items() if lane.directory.name == p)
            print(f"{point}: restarts={supervisor.restarts} {t.details()}")
            if supervisor.failures:
                print(f"{point}: workers exited with {supervisor.failures}\n{supervisor.logs()}")
    finally:
        for _, client, *_ in lanes:
            await client.__aexit__(None, None, None)

    total = tallies[0]
    lost = sum(len(t.lost) for t in tallies)
    repeated = sum(t.finished_calls_repeated for t in tallies)
    effects = sum(t.idempotent_effects_repeated for t in tallies)
    pauses = [r for t in tallies for r in t.pauses_applied_more_than_once]
    rejected = [r for t in tallies for r in t.applied_answers_rejected]
    summary = type(total)(
        runs=RUNS_PER_POINT * len(KILLS),
        lost=[r for t in tallies for r in t.lost],
        failed=[r for t in tallies for r in t.failed],
        finished_calls_repeated=repeated,
        idempotent_effects_repeated=effects,
        transfers_issued_twice=sum(t.transfers_issued_twice for t in tallies),
        notify_effects_repeated=sum(t.notify_effects_repeated for t in tallies),
        pauses_applied_more_than_once=pauses,
        applied_answers_rejected=rejected,
        answers_without_outcome=[r for t in tallies for r in t.answers_without_outcome],
        dead_letters=sum(t.dead_letters for t in tallies),
        terminal_events=sum(t.terminal_events for t in tallies),
        model_calls_repeated=sum(t.model_calls_repeated for t in tallies),
        kills=sum(t.kills for t in tallies),
        rejections=sum((t.rejections for t in tallies), Counter()),
    )
    print(f"took {time.monotonic() - started:.1f} s")
    print(summary.line(RUNS_PER_POINT, len(KILLS)))

    # The faults really happened: every point killed a worker at least once.
    assert all(t.kills >= 1 for t in tallies), [t.kills for t in tallies]
    assert lost == 0, summary.details()
    assert summary.failed == [], summary.details()
    assert summary.dead_letters == 0, summary.details()
    assert summary.answers_without_outcome == [], summary.details()
    assert repeated == 0, summary.details()
    assert effects == 0, summary.details()
    assert pauses == [], summary.details()
    assert rejected == [], summary.details()


@pytest.mark.kafka
@pytest.mark.s3
async def test_workers_join_and_leave_while_answers_race(
    kafka_service: KafkaService, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    """Per run: 3 identical approvals, 1 stale and 1 conflicting answer, sent at once while
    the group rebalances (a worker joins, one is stopped, one is SIGKILLed, one joins)."""
    lane = Lane(kafka_service.bootstrap_servers, s3_bucket, tmp_path, partitions=4)
    await lane.create_topics()
    options = takeover_consumer_options(kafka_service)
    runs = [f"run-{lane.name}-{i}" for i in range(24)]
    sent: dict[str, set[str]] = {r: set() for r in runs}
    started = time.monotonic()

    async with Client(lane) as client:
        first = await WorkerProcess.start(lane, consumer_options=options)
        workers = [first]
        try:
            for run_id in runs:
                await client.submit(run_id, f"transfer {run_id}")
            assert await client.wait_for(lambda: set(runs) <= client.paused(), within=60), (
                f"{len(set(runs) - client.paused())} runs never paused\n{first.tail()}"
            )

            async def race(batch: list[str]) -> None:
                sends = []
                for run_id in batch:
                    approve, conflict = f"approve-{run_id}", f"reject-{run_id}"
                    sent[run_id] |= {approve, conflict, f"stale-{run_id}"}
                    sends += [client.answer(run_id, approve) for _ in range(3)]
                    sends.append(client.answer(run_id, f"stale-{run_id}", version=2))
                    sends.append(client.answer(run_id, conflict, "REJECTED"))
                await asyncio.gather(*sends)

            batches = [runs[0:6], runs[6:12], runs[12:18], runs[18:24]]
            # A worker joins while the first batch's answers race.
            workers.append(await WorkerProcess.start(lane, consumer_options=options))
            await race(batches[0])
            await asyncio.sleep(1.0)
            # One leaves gracefully while the second batch races.
            stopping = asyncio.create_task(workers[0].terminate())
            await race(batches[1])
            await stopping
            # A third joins, and then the second dies hard, while the third batch races.
            workers.append(await WorkerProcess.start(lane, consumer_options=options))
            await race(batches[2])
            workers[1].kill()
            workers.append(await WorkerProcess.start(lane, consumer_options=options))
            await race(batches[3])
            await quiesce(lane, client, set(runs), within=60)
        finally:
            for worker in workers:
                await worker.terminate()
        t = tally(lane, client, runs, sent)

    print(f"took {time.monotonic() - started:.1f} s")
    print(t.line(len(runs), 1).replace("x 1 points", "with workers joining and leaving"))
    print(t.details())
    assert t.lost == [], t.details()
    assert t.dead_letters == 0, t.details()
    assert t.answers_without_outcome == [], t.details()
    assert t.finished_calls_repeated == 0, t.details()
    assert t.idempotent_effects_repeated == 0, t.details()
    assert t.transfers_issued_twice == 0, t.details()
    assert t.pauses_applied_more_than_once == [], t.details()
    assert t.applied_answers_rejected == [], t.details()
