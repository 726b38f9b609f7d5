"""Audit a run: check every stored step's seal and that each one names its parent correctly.

A replay tool reads the run back with this before trusting it: a snapshot rewritten without the
key fails its seal, and a step removed or swapped breaks the parent chain.
"""

from __future__ import annotations

import msgspec
from intermission_schemas import DecodeError, decode_run_result, decode_snapshot

from ...errors import TamperedSnapshotError
from ..ports import SnapshotStore
from .keys import result_key, run_prefix, snapshot_key
from .sealing import Sealer, pause_digest, sha256_hex


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
    parent: str | None = None
    forked_from: str | None = None

    def ended(problem: str | None) -> RunAudit:
        return RunAudit(run_id=run_id, steps=steps, problem=problem, forked_from=forked_from)

    keys = set(await store.list(run_prefix(run_id)))
    version = 1
    try:
        while snapshot_key(run_id, version) in keys:
            key = snapshot_key(run_id, version)
            stored = await store.get(key)
            if stored is None:
                return ended(f"{key} vanished while auditing")
            body = sealer.open(key, stored.data)
            snapshot = decode_snapshot(body)
            if version == 1 and FORKED_FROM in snapshot.request.tags:
                # A fork's first step follows the pause it was forked from, in another run.
                forked_from = snapshot.request.tags[FORKED_FROM]
                parent = await _fork_parent(store, sealer, forked_from)
            if snapshot.parent_sha256 != parent:
                return ended(f"{key} does not follow the step before it")
            if snapshot.run_id != run_id or snapshot.snapshot_version != version:
                return ended(f"{key} holds another step's content")
            parent = pause_digest(snapshot)
            steps.append(
                AuditedStep(
                    key=key,
                    version=version,
                    status=snapshot.status,
                    sha256=parent,
                    parent_sha256=snapshot.parent_sha256,
                )
            )
            version += 1
        if result_key(run_id) in keys:
            key = result_key(run_id)
            stored = await store.get(key)
            if stored is not None:
                body = sealer.open(key, stored.data)
                result = decode_run_result(body)
                # A run that failed before its first pause has a result with no parent.
                if result.parent_sha256 != parent and not (result.parent_sha256 is None and version == 1):
                    return ended(f"{key} does not follow the last pause")
                steps.append(
                    AuditedStep(
                        key=key,
                        version=0,
                        status=type(result.completed).__name__,
                        sha256=sha256_hex(body),
                        parent_sha256=result.parent_sha256,
                    )
                )
    except (TamperedSnapshotError, DecodeError) as exc:
        return ended(str(exc))
    if not steps:
        return ended(f"no stored steps for run {run_id!r}")
    return ended(None)


# The tag a fork's request carries: the run and pause it was forked from, "{run_id}@{version}".
FORKED_FROM = "intermission.forkedFrom"


async def _fork_parent(store: SnapshotStore, sealer: Sealer, forked_from: str) -> str | None:
    """The pause digest of the pause a fork names (its seal checked), or None if it is gone."""
    run_id, _, version = forked_from.rpartition("@")
    key = snapshot_key(run_id, int(version)) if version.isdigit() else ""
    stored = await store.get(key) if key else None
    if stored is None:
        return None
    return pause_digest(decode_snapshot(sealer.open(key, stored.data)))
