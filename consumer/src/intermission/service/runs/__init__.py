"""The per-run rules of the service, one concern a module. Internal: the public way in is
``intermission.service.build_worker``.

    spec.py        what a run's generations need, built once from its request
    requests.py    a GenerateRequest: first run, de-duplication
    claims.py      a ResumeRequested: answers checked and collected, the pause claimed
    lifecycle.py   every status change of a pause, decided by one pure function
    authority.py   who may answer which call, and how many must approve it
    signatures.py  signed answers, and whom each key may speak for
    lease.py       a claim's lease, renewed while its owner works
    journal.py     a step's finished model replies and tool outputs
    outage.py      journal writes kept and retried in place while the store is down
    expiry.py      pauses nobody answered: the sweep and the policies
    steps.py       one step of a run: generate, then store and announce the outcome
    announce.py    the events the worker publishes
    snapshots.py   stored steps, read and written by conditional write
    keys.py        the key layout in the bucket
    sealing.py     seals and pause digests (tamper evidence)
    audit.py       every check the worker makes on a run's stored objects, made on all
    index.py       the run index: a marker per run state, for listing at any scale
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta

from intermission_schemas import GenerateRequest, ResumeRequested, RunCompleted, RunFailed, Topics

from ..._app import Intermission
from ..._middleware import Middleware
from ..clock import REAL_CLOCK, Clock
from ..observe.observer import NO_OBSERVER, Observer
from ..ports import Publisher, SnapshotStore
from ..tracing import TracedPublisher, TracedStore
from .announce import Announcer
from .claims import Claims
from .expiry import Expiry
from .index import RunIndex
from .outage import OutageReport
from .requests import Requests
from .sealing import Sealer
from .signatures import AnswerKeys
from .snapshots import Snapshots
from .steps import Steps
from .tokens import ResumeTokens

__all__ = ["Runs"]


class Runs:
    """What a worker does with each kind of record. Holds no per-run state: everything a run
    has lives in the store."""

    def __init__(
        self,
        *,
        ai: Intermission,
        store: SnapshotStore,
        publisher: Publisher,
        topics: Topics,
        sealer: Sealer,
        clock: Clock = REAL_CLOCK,
        owner: str | None = None,
        lease: timedelta = timedelta(seconds=30),
        run_index: bool = False,
        tokens: ResumeTokens | None = None,
        answer_keys: AnswerKeys | None = None,
        observer: Observer = NO_OBSERVER,
        use: Sequence[Middleware] = (),
    ) -> None:
        """``clock``: the time every timer of these runs waits on (the real one, or a test's).
        ``use``: hooks (the engine's `Middleware`) around every model and tool call of every
        step, inside the journal's: a replay answers tools from a recording there. ``run_index``:
        write the run index's markers (`index.py`), which listing runs needs."""
        self.topics = topics
        self.clock = clock  # the worker's sweep and backoff wait on it too
        # Every publish and store write of a run is a span (no-ops without an OpenTelemetry SDK).
        self.publisher = publisher = TracedPublisher(publisher)
        store = TracedStore(store)
        steps = Steps(
            ai=ai,
            snapshots=Snapshots(store, sealer, clock.now, index=RunIndex(store) if run_index else None),
            announce=Announcer(publisher, topics, tokens),
            clock=clock,
            owner=owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}",
            lease=lease,
            observer=observer,
            use=use,
        )
        self._steps = steps
        self._requests = Requests(steps)
        self._expiry = Expiry(steps)
        self._claims = Claims(steps, self._expiry, answer_keys)

    def report_outages(self, report: OutageReport) -> None:
        """Tell ``report`` (the worker's Health) of store outages a step waits out in place."""
        self._steps.outages = report

    async def on_request(self, request: GenerateRequest) -> None:
        await self._requests.handle(request)

    async def on_resume(self, event: ResumeRequested) -> None:
        await self._claims.handle(event)

    async def on_tampered(self, run_id: str, reply_to: str | None, detail: str) -> RunCompleted | RunFailed:
        """Fail a run whose stored state fails its checks; the run's end as stored."""
        return await self._steps.tampered(run_id, reply_to, detail)

    async def sweep_expired(self) -> int:
        return await self._expiry.sweep()
