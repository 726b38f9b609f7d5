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

    @property
    def intact(self) -> bool:
        return self.problem is None


async def audit_run(store: SnapshotStore, sealer: Sealer, run_id: str) -> RunAudit:
    steps: list[AuditedStep] = []
    parent: str | None = None
    keys = set(await store.list(run_prefix(run_id)))
    version = 1
    try:
        while snapshot_key(run_id, version) in keys:
            key = snapshot_key(run_id, version)
            stored = await store.get(key)
            if stored is None:
                return RunAudit(run_id=run_id, steps=steps, problem=f"{key} vanished while auditing")
            body = sealer.open(key, stored.data)
            snapshot = decode_snapshot(body)
            if snapshot.parent_sha256 != parent:
                return RunAudit(
                    run_id=run_id, steps=steps, problem=f"{key} does not follow the step before it"
                )
            if snapshot.run_id != run_id or snapshot.snapshot_version != version:
                return RunAudit(run_id=run_id, steps=steps, problem=f"{key} holds another step's content")
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
                    return RunAudit(
                        run_id=run_id, steps=steps, problem=f"{key} does not follow the last pause"
                    )
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
        return RunAudit(run_id=run_id, steps=steps, problem=str(exc))
    if not steps:
        return RunAudit(run_id=run_id, steps=steps, problem=f"no stored steps for run {run_id!r}")
    return RunAudit(run_id=run_id, steps=steps)
