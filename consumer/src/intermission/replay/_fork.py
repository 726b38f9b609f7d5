"""A new run from a stored pause: ``intermission runs fork RUN --from VERSION``.

The fork is a run of its own (new run id, its own keys, its own index marker). Its first step
is a copy of the parent's pause, with the request re-addressed to the new run and tagged
``intermission.forkedFrom = "{run}@{version}"``, and it names the parent pause's digest as its
parent, so ``audit_run`` checks the fork's chain back into the parent's. It is announced as the
worker announces any pause (an InterruptRaised on the approvals topic, with resume tokens and
trace context, the pause stored with its run's start), so the inbox and approvers see it; answers
given with the fork are sent as an ordinary ResumeRequested, and a worker takes it from there.

Requests: 1 GET of the parent pause, 1 conditional create of the fork's first-step claim, 1 of
its pause, 1 of its index marker (and 1 of its deadline marker when the request has an expiry);
then 1 or 2 records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from intermission_producer import IntermissionClient, Transport, build_resume
from intermission_schemas import InterruptRaised, ResumeRequested, Snapshot, Topics

from .._app import Intermission
from ..errors import UsageError
from ..service.ports import Publisher, SnapshotStore
from ..service.runs.announce import Announcer, interrupt_raised
from ..service.runs.audit import FORKED_FROM
from ..service.runs.index import RunIndex
from ..service.runs.journal import create_lapsed_claim
from ..service.runs.sealing import Sealer, pause_digest
from ..service.runs.snapshots import Loaded, Snapshots
from ..service.runs.spec import RunSpecs
from ..service.runs.tokens import ResumeTokens
from ..service.tracing import TracedPublisher, current_trace_context, forking

__all__ = ["Fork", "fork_run", "start_from_pause"]


class Fork(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    parent: str  # "{run_id}@{version}"
    raised: InterruptRaised
    resumes: list[ResumeRequested] = []


def fork_id(run_id: str, version: int, salt: str = "") -> str:
    digest = hashlib.sha256(f"{run_id}@{version}:{salt}".encode()).hexdigest()[:8]
    return f"{run_id[:100]}.fork-{version}-{digest}"


async def start_from_pause(
    *,
    ai: Intermission,
    store: SnapshotStore,
    sealer: Sealer,
    publisher: Publisher,
    topics: Topics,
    parent: Snapshot,
    run_id: str,
    tags: Mapping[str, str],
    tokens: ResumeTokens | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    run_index: bool = False,
) -> InterruptRaised:
    """Store ``parent``'s pause as step 1 of the new run ``run_id`` and publish it.

    Announced as the worker announces a pause (`Announcer`): a resume token per ref when
    ``tokens`` is given, the trace context the pause was stored in (a branch of the parent's
    trace) in the event and in the record's headers, and the fork's start as its run's start."""
    request = msgspec.structs.replace(
        parent.request, run_id=run_id, idempotency_key=run_id, tags={**parent.request.tags, **tags}
    )
    snapshots = Snapshots(store, sealer, clock, index=RunIndex(store) if run_index else None)
    announcer = Announcer(TracedPublisher(publisher), topics, tokens)
    spec = await RunSpecs(ai).of(request)
    published: list[InterruptRaised] = []

    async def announce(stored: Loaded) -> None:
        published.append(await announcer.interrupts(stored, spec))

    with forking(parent.trace_context, run_id, tags.get(FORKED_FROM, parent.run_id)):
        now = clock()
        expires = now + timedelta(seconds=request.expiry.after_seconds) if request.expiry else None
        if expires is not None:
            await snapshots.add_deadline(expires, run_id, 1)
        # The fork's first step is the copied pause: its claim, lapsed at once, makes a request
        # that reuses the fork's run id look up what is stored, as for any run (`Requests`).
        await create_lapsed_claim(store, sealer, run_id, 0, "fork")
        await snapshots.create(
            Snapshot(
                run_id=run_id,
                snapshot_version=1,
                status="pending",
                request=request,
                paused=parent.paused,
                created_at=now,
                expires_at=expires,
                parent_sha256=pause_digest(parent),
                trace_context=current_trace_context(),
                run_started_at=now,  # the fork is a run of its own: its time starts here
            ),
            alongside=announce,
        )
    return published[-1]


async def fork_run(
    *,
    ai: Intermission,
    store: SnapshotStore,
    sealer: Sealer,
    transport: Transport,
    topics: Topics,
    run_id: str,
    version: int,
    new_run_id: str | None = None,
    respond: Mapping[str, Any] | None = None,
    restart: Mapping[str, Any] | None = None,
    replace_input: Mapping[str, Any] | None = None,
    answered_by: str = "",
    tokens: ResumeTokens | None = None,
    run_index: bool = False,
) -> Fork:
    """Fork ``run_id`` at pause ``version``; with answers, also resume the fork with them.

    The answers are the engine's kinds, as `IntermissionClient.resume` takes them: ``respond``
    (ref -> output), ``restart`` (ref -> the tool's ``ctx.resumed``: an approval or a denial),
    ``replace_input`` (restarted ref -> new input). They are checked against the pause's schemas
    as a live answer is (AnswerError naming the field) before anything is stored or sent.
    ``tokens``: the workers' resume tokens (`Settings.resume_tokens`), so that the fork's pause
    can be answered with a token like any other. ``run_index``: list the fork in the run index,
    as the workers do (`Settings.run_index`).

        fork = await fork_run(ai=ai, store=store, sealer=Sealer(None), transport=transport,
                              topics=Topics(), run_id="r1", version=1,
                              restart={"transferMoney-1-0": {"status": "APPROVED"}},
                              answered_by="alice")
    """
    snapshots = Snapshots(store, sealer)
    loaded = await snapshots.load(run_id, version)
    if loaded is None:
        raise UsageError(f"run {run_id!r} has no stored pause {version}")
    if respond or restart:
        # The parent's pause shows the same questions the fork will (none answered yet in the
        # fork, whatever the parent collected): a wrong answer stops here.
        parent_raised = interrupt_raised(loaded, await RunSpecs(ai).of(loaded.snapshot.request))
        shown = msgspec.structs.replace(parent_raised, answered=[])
        build_resume(
            shown, respond=respond, restart=restart, replace_input=replace_input, answered_by=answered_by
        )
    child = new_run_id or fork_id(run_id, version, datetime.now(UTC).isoformat())
    parent = f"{run_id}@{version}"
    raised = await start_from_pause(
        ai=ai,
        store=store,
        sealer=sealer,
        publisher=transport,
        topics=topics,
        parent=loaded.snapshot,
        run_id=child,
        tags={FORKED_FROM: parent},
        tokens=tokens,
        run_index=run_index,
    )
    resumes: list[ResumeRequested] = []
    if respond or restart:
        async with IntermissionClient(transport=transport, topics=topics) as client:
            resumes.append(
                await client.resume(
                    raised,
                    respond=respond,
                    restart=restart,
                    replace_input=replace_input,
                    answered_by=answered_by,
                    resume_id=f"fork-{child[-40:]}",
                )
            )
    return Fork(run_id=child, parent=parent, raised=raised, resumes=resumes)
