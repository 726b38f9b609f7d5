"""Audit a run: every check the worker makes on a run's stored objects, made on all of them.

A replay tool reads the run back with this before trusting it. The checks are the worker's own,
not copies: each step is read through `Snapshots` (its seal, and that it holds this run's step
at this key), a claim that is not a copy of its pause is refused (`snapshots.check_claim`), a
pause left pending under a stored next step is `lifecycle.rolled_back`, and each
journal entry and claim must open with the seal keys as the worker's reads of them do. So a
snapshot rewritten or resealed without the key (or with a key not in the ring) fails its seal, a
step removed or swapped breaks the parent chain, and an older copy put back is a rollback.
"""

from __future__ import annotations

import asyncio

import msgspec
from intermission_schemas import DecodeError, RunResult, Snapshot

from ...errors import TamperedSnapshotError
from ..ports import SnapshotStore
from .keys import claim_key, result_key, run_prefix, snapshot_key
from .lifecycle import Pause, as_read, rolled_back
from .sealing import Sealer, pause_digest, sha256_hex
from .snapshots import Snapshots, check_claim


class AuditedStep(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    version: int  # 0 for the result
    status: str
    sha256: str
    parent_sha256: str | None


class RunAudit(msgspec.Struct, frozen=True, kw_only=True):
    run_id: str
    steps: list[AuditedStep]
    problem: str | None = None  # the first thing wrong, or None when the chain holds
    forked_from: str | None = None  # "{run_id}@{version}" of the pause a fork started from

    @property
    def intact(self) -> bool:
        return self.problem is None


async def audit_run(store: SnapshotStore, sealer: Sealer, run_id: str) -> RunAudit:
    steps: list[AuditedStep] = []
    forked_from: str | None = None

    def ended(problem: str | None) -> RunAudit:
        return RunAudit(run_id=run_id, steps=steps, problem=problem, forked_from=forked_from)

    snapshots = Snapshots(store, sealer)
    keys = set(await store.list(run_prefix(run_id)))
    try:
        chain: list[Snapshot] = []
        while snapshot_key(run_id, len(chain) + 1) in keys:
            key = snapshot_key(run_id, len(chain) + 1)
            loaded = await snapshots.load(run_id, len(chain) + 1)
            if loaded is None:
                return ended(f"{key} vanished while auditing")
            snapshot = loaded.snapshot
            if claim_key(run_id, len(chain) + 1) in keys:
                claim = await snapshots.claim_if_open(run_id, len(chain) + 1)
                if claim is not None:
                    check_claim(snapshot, claim.snapshot)  # the worker's own check
                    snapshot = claim.snapshot  # the pause as its answer took it
            if not chain and FORKED_FROM in snapshot.request.tags:
                # A fork's first step follows the pause it was forked from, in another run.
                forked_from = snapshot.request.tags[FORKED_FROM]
                parent = await _fork_parent(snapshots, forked_from)
            else:
                parent = pause_digest(chain[-1]) if chain else None
            if snapshot.parent_sha256 != parent:
                return ended(f"{key} does not follow the step before it")
            if chain and (problem := _rolled_back(run_id, chain[-1])) is not None:
                return ended(problem)
            if chain:
                steps[-1] = _step(steps[-1].key, as_read(Pause(snapshot=chain[-1], continued=True)))
            chain.append(snapshot)
            steps.append(_step(key, snapshot))
        if result_key(run_id) in keys:
            key = result_key(run_id)
            stored = await store.get(key)
            if stored is not None:
                result, body = snapshots.open_result(run_id, stored.data)
                last = pause_digest(chain[-1]) if chain else None
                # A run that failed before its first pause has a result with no parent.
                if result.parent_sha256 != last and not (result.parent_sha256 is None and not chain):
                    return ended(f"{key} does not follow the last pause")
                if chain and (problem := _rolled_back(run_id, chain[-1])) is not None:
                    return ended(problem)
                if chain:
                    steps[-1] = _step(steps[-1].key, as_read(Pause(snapshot=chain[-1], continued=True)))
                steps.append(_result_step(key, result, body))
        # Journal entries and claims: the worker opens each one it reads, and refuses a bad seal.
        steps_read = {result_key(run_id), *(snapshot_key(run_id, n + 1) for n in range(len(chain)))}
        others = sorted(keys - steps_read)
        for key, stored in zip(others, await asyncio.gather(*map(store.get, others)), strict=True):
            if stored is not None:  # removed meanwhile: nothing left to refuse
                sealer.open(key, stored.data)
    except (TamperedSnapshotError, DecodeError) as exc:
        return ended(str(exc))
    if not steps:
        return ended(f"no stored steps for run {run_id!r}")
    return ended(None)


def _rolled_back(run_id: str, continued: Snapshot) -> str | None:
    """The worker's rollback check, for a pause whose next step is stored."""
    tampered = rolled_back(Pause(snapshot=continued, continued=True))
    if tampered is None:
        return None
    return f"{snapshot_key(run_id, continued.snapshot_version)} {tampered.detail}"


def _step(key: str, snapshot: Snapshot) -> AuditedStep:
    return AuditedStep(
        key=key,
        version=snapshot.snapshot_version,
        status=snapshot.status,
        sha256=pause_digest(snapshot),
        parent_sha256=snapshot.parent_sha256,
    )


def _result_step(key: str, result: RunResult, body: bytes) -> AuditedStep:
    return AuditedStep(
        key=key,
        version=0,
        status=type(result.completed).__name__,
        sha256=sha256_hex(body),
        parent_sha256=result.parent_sha256,
    )


# The tag a fork's request carries: the run and pause it was forked from, "{run_id}@{version}".
FORKED_FROM = "intermission.forkedFrom"


async def _fork_parent(snapshots: Snapshots, forked_from: str) -> str | None:
    """The pause digest of the pause a fork names (its seal checked), or None if it is gone."""
    run_id, _, version = forked_from.rpartition("@")
    loaded = await snapshots.load(run_id, int(version)) if version.isdigit() else None
    return None if loaded is None else pause_digest(loaded.snapshot)
