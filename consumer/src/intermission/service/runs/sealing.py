"""Tamper evidence for stored snapshots (where they live is ``keys``).

An object is one header line and the JSON body:

    intermission-seal/1 hmac-sha256=<hex>\\n{json}      with a snapshot key configured
    intermission-seal/1 sha256=<hex>\\n{json}           without one (detects corruption only)

With a key, nobody without it can rewrite a snapshot unnoticed. Each step also records its
parent's *pause digest*: the sha256 of the parts of a pause that never change (run, version,
request, history, times, its own parent). Status and collected answers change by design, so they
are left out of it; the answers become part of the next step's history, which its own digest
covers. So the versions of a run form a chain a replay can check end to end.
"""

from __future__ import annotations

import hashlib
import hmac

from intermission_schemas import Snapshot, encode

from ...errors import TamperedSnapshotError

_MAGIC = b"intermission-seal/1 "


def sha256_hex(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def pause_digest(snapshot: Snapshot) -> str:
    """The digest that names a pause: stable while its status and answers change."""
    return sha256_hex(
        encode(
            (
                snapshot.run_id,
                snapshot.snapshot_version,
                snapshot.request,
                snapshot.paused,
                snapshot.created_at,
                snapshot.expires_at,
                snapshot.parent_sha256,
            )
        )
    )


class Sealer:
    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret

    def _digest(self, body: bytes) -> bytes:
        if self._secret is None:
            return b"sha256=" + sha256_hex(body).encode()
        return b"hmac-sha256=" + hmac.new(self._secret, body, hashlib.sha256).hexdigest().encode()

    def seal(self, body: bytes) -> bytes:
        return _MAGIC + self._digest(body) + b"\n" + body

    def open(self, key: str, data: bytes) -> bytes:
        """The body, once its seal is checked."""
        header, newline, body = data.partition(b"\n")
        if not newline or not header.startswith(_MAGIC):
            raise TamperedSnapshotError(key, "has no seal")
        if not hmac.compare_digest(header[len(_MAGIC) :], self._digest(body)):
            raise TamperedSnapshotError(key, "does not match its seal")
        return body
