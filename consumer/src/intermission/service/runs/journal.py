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
right after it, already stands for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
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

__all__ = ["Journal"]

log = logging.getLogger("intermission.worker")


class _ModelEntry(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    message: msgspec.Raw  # the Message, in the wire format's own encoding
    finish_reason: FinishReason
    usage: Usage | None = None


class _ToolEntry(msgspec.Struct, frozen=True, kw_only=True):
    output: Any


_model_entry = msgspec.json.Decoder(_ModelEntry)
_tool_entry = msgspec.json.Decoder(_ToolEntry)
_claim = msgspec.json.Decoder(Claim)


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
        # A claim created while the journal was listed (`open_claiming`): (claim, etag), or
        # (claim, None) when that create lost to an existing claim.
        self._first_claim: tuple[Claim, str | None] | None = None
        self.fresh = False  # this worker's claim was the step's first object (`open_claiming`)

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
    async def open_claiming(
        cls,
        store: SnapshotStore,
        sealer: Sealer,
        run_id: str,
        step: int,
        claim: tuple[str, Callable[[], datetime], timedelta],
    ) -> Journal:
        """`open`, with the step's claim created first (``claim``: owner, clock, lease).

        A create that makes the claim is the step's first object (``fresh``): entries are
        written only under a claim, so there is nothing to list, and a run's first step then
        costs this one request before its model call. A create that meets a claim (a redelivery,
        a takeover) lists the entries; `claim` settles who holds the step."""
        owner, clock, duration = claim
        mine = new_claim(owner, clock(), duration)
        key = journal_claim_key(run_id, step)
        try:
            etag: str | None = await store.create(key, sealer.seal(key, encode(mine)))
        except PreconditionFailed:
            etag = None
        present: list[str] = [] if etag is not None else await store.list(journal_prefix(run_id, step))
        journal = cls(store, sealer, run_id, step, frozenset(present))
        journal._first_claim = (mine, etag)
        journal.fresh = etag is not None
        return journal

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
        first, self._first_claim = self._first_claim, None
        etag: str | None = None
        if first is not None:  # created (or found taken) already, by open_claiming
            mine, etag = first
        else:
            mine = new_claim(owner, now, duration)
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
            live = seen_for(held) < duration if seen_for is not None else held.lease_until > now
            if held.owner != owner and live:
                return held
            mine = new_claim(owner, now, duration, held.takeovers + (held.owner != owner))
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
        recorded = await self._read(key)
        if recorded is not None:
            self.replayed += 1
            return _decode_model(recorded)
        response = await call_next(request)
        if not response.message.tool_requests:
            return response
        entry = _ModelEntry(
            message=msgspec.Raw(encode(response.message)),
            finish_reason=response.finish_reason,
            usage=response.usage,
        )
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
    entry = _model_entry.decode(body)
    [message] = decode_messages(b"[" + bytes(entry.message) + b"]")
    return ModelResponse(message=message, finish_reason=entry.finish_reason, usage=entry.usage)
