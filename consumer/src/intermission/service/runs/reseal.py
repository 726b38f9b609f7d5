"""Resealing a bucket with the current seal key, the step of a rotation before the old key is
retired: a pause sealed with a key no worker holds can only fail as tampered, and a paused run
is not rewritten until someone answers it, which may be weeks away.

Each sealed object not sealed by the ring's current key is opened (with whichever key of the
ring sealed it) and written again under the current one, with If-Match on the etag it was read
with: a worker that rewrote it meanwhile wins (it seals with the current key too, when it runs
the same ring), and the object is read again. Objects that fail their seal are reported, never
rewritten: resealing must not launder a tampered object into a valid one.
"""

from __future__ import annotations

import msgspec

from ...errors import TamperedSnapshotError
from ..ports import PreconditionFailed, SnapshotStore
from .sealing import Sealer

__all__ = ["ResealReport", "reseal"]

_SEALED = b"intermission-seal/"
_ATTEMPTS = 5


class ResealReport(msgspec.Struct, kw_only=True):
    resealed: int = 0
    current: int = 0  # sealed by the current key already
    unsealed: int = 0  # objects without a seal line (index markers, probes)
    refused: list[str] = msgspec.field(default_factory=list)  # keys that fail their seal


async def reseal(store: SnapshotStore, sealer: Sealer, prefix: str = "") -> ResealReport:
    report = ResealReport()
    for key in await store.list(prefix):
        for _ in range(_ATTEMPTS):
            stored = await store.get(key)
            if stored is None:
                break  # removed meanwhile (a finished run's index marker, say)
            if not stored.data.startswith(_SEALED):
                report.unsealed += 1
                break
            if sealer.sealed_by_current(stored.data):
                report.current += 1
                break
            try:
                body = sealer.open(key, stored.data)
            except TamperedSnapshotError:
                report.refused.append(key)
                break
            try:
                await store.replace(key, sealer.seal(key, body), stored.etag)
            except PreconditionFailed:
                continue  # rewritten meanwhile: read it again
            report.resealed += 1
            break
        else:
            report.refused.append(key)  # kept changing under us; run again
    return report
