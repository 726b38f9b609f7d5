"""The journal of a step: what already finished, so nothing finished runs twice.

A step (the first generation of a run, or the continuation of pause N) may be started more than
once: a record redelivered after a crash, a pause taken over after its claim's lease lapsed, a
snapshot rolled back. Each model reply that asks for tools is written before those tools run,
and each finished tool call's output is written before the next model call, both by
conditional create keyed by run, step and position or ref. A later attempt at the step reads
them back instead of calling the model or the tool again. A tool cut off mid-call (its worker
killed before the write) has nothing in the journal and runs again, with the same
``ctx.idempotency_key`` to hand to the outside system. A store outage does not cut a call off:
the worker keeps the output and retries its write until the store is back (``outage``).

A final reply (no tool requests) is not journaled: the run's result or next snapshot, written
right after it, already stands for it. A run's first step writes its first reply with its claim
(`Journal.unclaimed`): one object where there were two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from intermission_schemas import Claim, decode_messages, encode

from ..._middleware import Middleware, ModelNext, ToolNext
from ..._model import FinishReason, ModelRequest, ModelResponse, Usage
from ..._tools import Tool, ToolContext
from ..ports import PreconditionFailed, SnapshotStore
from .keys import journal_claim_key, journal_model_key, journal_prefix, journal_tool_key
from .lease import Lease, Sleep, new_claim
from .outage import NO_REPORT, OutageReport, until_written
from .sealing import Sealer

__all__ = ["Journal", "StepTaken", "create_lapsed_claim"]

log = logging.getLogger("intermission.worker")


class _ModelEntry(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    message: msgspec.Raw  # the Message, in the wire format's own encoding
    finish_reason: FinishReason
    usage: Usage | None = None


class _ToolEntry(msgspec.Struct, frozen=True, kw_only=True):
    output: Any


class _StepClaim(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """A step's claim (a `Claim` on the wire, read by releases that know only that), with the
    step's first model reply when it asked for tools: written together, one request fewer."""

    owner: str
    lease_until: datetime
    takeovers: int = 0
    first_reply: _ModelEntry | None = None
    first_position: int | None = None

    def as_claim(self) -> Claim:
        return Claim(owner=self.owner, lease_until=self.lease_until, takeovers=self.takeovers)


class StepTaken(Exception):
    """Another attempt at the step created its claim first: a redelivered or duplicated record,
    or a run id used again. Not an IntermissionError: it is no failure of the run."""


_model_entry = msgspec.json.Decoder(_ModelEntry)
_tool_entry = msgspec.json.Decoder(_ToolEntry)
_claim = msgspec.json.Decoder(_StepClaim)


class Journal(Middleware):
    """One step's journal. ``open`` lists what exists in one request, so a first attempt (the
    usual case) reads nothing more."""

    def __init__(
        self, store: SnapshotStore, sealer: Sealer, run_id: str, step: int, present: frozenset[str]
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.run_id = run_id
        self.step = step
        self._present = present
        self.replayed = 0  # model replies and tool outputs read back instead of produced
        self.outages: OutageReport = NO_REPORT  # told of an outage a write waits out here
        # `unclaimed`: the terms of the claim to create (owner, clock, lease), and once created,
        # the claim and its etag, for renewals.
        self._terms: tuple[str, Callable[[], datetime], timedelta] | None = None
        self._created: tuple[_StepClaim, str] | None = None
        # The step's first model reply, read from its claim: (position, _ModelEntry body).
        self._first_reply: tuple[int, _ModelEntry] | None = None

    @classmethod
    async def open(cls, store: SnapshotStore, sealer: Sealer, run_id: str, step: int) -> Journal:
        present = frozenset(await store.list(journal_prefix(run_id, step)))
        return cls(store, sealer, run_id, step, present)

    @classmethod
    def empty(cls, store: SnapshotStore, sealer: Sealer, run_id: str, step: int) -> Journal:
        """The journal of a step that has not started: its pause was still pending when this
        worker's answer claimed it (entries are written only after that claim), so there is
        nothing to list."""
        return cls(store, sealer, run_id, step, frozenset())

    @classmethod
    def unclaimed(
        cls,
        store: SnapshotStore,
        sealer: Sealer,
        run_id: str,
        step: int,
        claim: tuple[str, Callable[[], datetime], timedelta],
    ) -> Journal:
        """A first attempt at ``step``, which reads nothing and claims nothing before its first
        model call: the claim (``claim``: owner, clock, lease) is created with the step's first
        model reply, or before the step's first write if it fails before any reply
        (`ensure_claimed`). Created, it is the run's first object, so nothing else of the run
        is stored; when it exists, StepTaken: `claim` settles who holds the step."""
        journal = cls(store, sealer, run_id, step, frozenset())
        journal._terms = claim
        return journal

    @property
    def _claiming(self) -> bool:
        return self._terms is not None and self._created is None

    async def ensure_claimed(self) -> None:
        """Create the claim of an `unclaimed` journal that has none yet (StepTaken if another
        attempt has it): nothing of the step is written before its claim."""
        if self._claiming:
            await self._create_claim(None)

    async def _create_claim(self, first: tuple[int, _ModelEntry] | None) -> None:
        assert self._terms is not None
        owner, clock, duration = self._terms
        mine = _StepClaim(
            owner=owner,
            lease_until=clock() + duration,
            first_reply=first[1] if first else None,
            first_position=first[0] if first else None,
        )
        key = journal_claim_key(self.run_id, self.step)
        try:
            etag = await self.store.create(key, self.sealer.seal(key, encode(mine)))
        except PreconditionFailed:
            raise StepTaken(key) from None
        self._created = (mine, etag)

    async def renew(self) -> None:
        """Renew the claim an `unclaimed` journal created (nothing until it has); PreconditionFailed
        when it is no longer this worker's."""
        if self._created is None or self._terms is None:
            return
        mine, etag = self._created
        _, clock, duration = self._terms
        later = msgspec.structs.replace(mine, lease_until=clock() + duration)
        key = journal_claim_key(self.run_id, self.step)
        self._created = (later, await self.store.replace(key, self.sealer.seal(key, encode(later)), etag))

    def idempotency_key(self, ref: str | None) -> str:
        return f"{self.run_id}:{self.step}:{ref or ''}"

    async def _read(self, key: str) -> bytes | None:
        if key not in self._present:
            return None
        stored = await self.store.get(key)
        return None if stored is None else self.sealer.open(key, stored.data)

    async def _write(self, key: str, body: bytes) -> bytes:
        """Create ``key``; if another attempt got there first, its body wins."""
        try:
            await self.store.create(key, self.sealer.seal(key, body))
        except PreconditionFailed:
            stored = await self.store.get(key)
            assert stored is not None, f"{key} was created, then vanished"
            return self.sealer.open(key, stored.data)
        return body

    # -- the step's own claim ------------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        clock: Callable[[], datetime],
        duration: timedelta,
        seen_for: Callable[[Claim], timedelta] | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> Lease | Claim:
        """Claim the step for ``owner``: a Lease to hold while working, or the live Claim of
        another worker that is (or may still be) running it.

        Used for a run's first step, which has no pause to carry a claim; later steps are
        claimed on their pause. A lapsed claim is taken over: one this worker has seen unchanged
        for a whole lease (``seen_for``, by its own clock), or without ``seen_for``, one whose
        ``lease_until`` has passed.
        """
        key = journal_claim_key(self.run_id, self.step)
        now = clock()
        etag: str | None = None
        mine = _step_claim(new_claim(owner, now, duration))
        if key not in self._present:
            with contextlib.suppress(PreconditionFailed):
                etag = await self.store.create(key, self.sealer.seal(key, encode(mine)))
        while etag is None:
            stored = await self.store.get(key)
            if stored is None:  # removed meanwhile: try to create it again
                try:
                    etag = await self.store.create(key, self.sealer.seal(key, encode(mine)))
                except PreconditionFailed:
                    continue
                break
            held = _claim.decode(self.sealer.open(key, stored.data))
            if held.first_reply is not None and held.first_position is not None:
                self._first_reply = (held.first_position, held.first_reply)
            live = seen_for(held.as_claim()) < duration if seen_for is not None else held.lease_until > now
            if held.owner != owner and live:
                return held.as_claim()
            # Taken over with the step's first reply kept: the step replays it.
            mine = msgspec.structs.replace(
                held,
                owner=owner,
                lease_until=now + duration,
                takeovers=held.takeovers + (held.owner != owner),
            )
            try:
                etag = await self.store.replace(key, self.sealer.seal(key, encode(mine)), stored.etag)
            except PreconditionFailed:
                continue
        current = [etag]

        async def renew() -> None:
            later = msgspec.structs.replace(mine, lease_until=clock() + duration)
            current[0] = await self.store.replace(key, self.sealer.seal(key, encode(later)), current[0])

        return Lease(renew, duration=duration, sleep=sleep)

    # -- the hooks (the engine's `Middleware`) -------------------------------------------------

    async def model(self, request: ModelRequest, call_next: ModelNext) -> ModelResponse:
        # The history's length names the turn: a step replays the same history up to here.
        position = len(request.messages)
        key = journal_model_key(self.run_id, self.step, position)
        if self._first_reply is not None and self._first_reply[0] == position:
            self.replayed += 1
            return _response(self._first_reply[1])
        recorded = await self._read(key)
        if recorded is not None:
            self.replayed += 1
            return _decode_model(recorded)
        response = await call_next(request)
        entry = (
            _ModelEntry(
                message=msgspec.Raw(encode(response.message)),
                finish_reason=response.finish_reason,
                usage=response.usage,
            )
            if response.message.tool_requests
            else None
        )
        if self._claiming:
            # The step's first reply: written with its claim, the step's first object.
            await self._create_claim((position, entry) if entry is not None else None)
            return response if entry is None else _response(entry)
        if entry is None:
            return response
        body = await until_written(lambda: self._write(key, encode(entry)), what=key, report=self.outages)
        return _decode_model(body)

    async def tool(self, tool: Tool, value: Any, ctx: ToolContext, call_next: ToolNext) -> Any:
        key = journal_tool_key(self.run_id, self.step, ctx.ref or "")
        recorded = await self._read(key)
        if recorded is not None:
            self.replayed += 1
            return _tool_entry.decode(recorded).output
        ctx.idempotency_key = self.idempotency_key(ctx.ref)
        result = await call_next(value, ctx)  # ctx.interrupt() raises: a pause is not journaled
        output = tool.output.dump(tool.output.validate(result, f"output of tool {tool.name!r}"))
        entry = encode(_ToolEntry(output=output))
        # The effect happened: from here on the output is written, never produced again.
        body = await until_written(lambda: self._write(key, entry), what=key, report=self.outages)
        return _tool_entry.decode(body).output


def _decode_model(body: bytes) -> ModelResponse:
    return _response(_model_entry.decode(body))


def _response(entry: _ModelEntry) -> ModelResponse:
    [message] = decode_messages(b"[" + bytes(entry.message) + b"]")
    return ModelResponse(message=message, finish_reason=entry.finish_reason, usage=entry.usage)


def _step_claim(claim: Claim) -> _StepClaim:
    return _StepClaim(owner=claim.owner, lease_until=claim.lease_until, takeovers=claim.takeovers)


async def create_lapsed_claim(
    store: SnapshotStore, sealer: Sealer, run_id: str, step: int, owner: str
) -> None:
    """A claim on ``step`` that has lapsed already (a fork's first step, which is a copied
    pause): a request that reuses the run id meets it and looks up what is stored."""
    key = journal_claim_key(run_id, step)
    lapsed = _StepClaim(owner=owner, lease_until=datetime.fromtimestamp(0, UTC))
    with contextlib.suppress(PreconditionFailed):
        await store.create(key, sealer.seal(key, encode(lapsed)))
