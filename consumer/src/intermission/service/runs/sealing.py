"""Tamper evidence for stored snapshots (where they live is ``keys``).

An object is one header line and the JSON body:

    intermission-seal/2 hmac-sha256=<hex>\\n{json}      with a seal key configured
    intermission-seal/2 sha256=<hex>\\n{json}           without one (detects corruption only)

The digest covers the object's key as well as its body, so a sealed object copied to another
key (another run's snapshot, another step) fails its seal. Objects written before that
(``intermission-seal/1``, body only) still open; the loader then checks the run and version in
the body against the key instead. With a key, nobody without it can rewrite a snapshot
unnoticed. Each step also records its
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

_MAGIC = b"intermission-seal/2 "
_LEGACY_MAGIC = b"intermission-seal/1 "


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

    def _digest(self, key: str | None, body: bytes) -> bytes:
        # Legacy objects (key None) sealed the body alone.
        message = body if key is None else key.encode() + b"\n" + body
        if self._secret is None:
            return b"sha256=" + sha256_hex(message).encode()
        return b"hmac-sha256=" + hmac.new(self._secret, message, hashlib.sha256).hexdigest().encode()

    def seal(self, key: str, body: bytes) -> bytes:
        """``body`` sealed for ``key``: it opens only at that key."""
        return _MAGIC + self._digest(key, body) + b"\n" + body

    def open(self, key: str, data: bytes) -> bytes:
        """The body, once its seal is checked for this key."""
        header, newline, body = data.partition(b"\n")
        if not newline:
            raise TamperedSnapshotError(key, "has no seal")
        if header.startswith(_MAGIC):
            expected = self._digest(key, body)
            seal = header[len(_MAGIC) :]
        elif header.startswith(_LEGACY_MAGIC):
            expected = self._digest(None, body)
            seal = header[len(_LEGACY_MAGIC) :]
        else:
            raise TamperedSnapshotError(key, "has no seal")
        if not hmac.compare_digest(seal, expected):
            raise TamperedSnapshotError(
                key, "does not match its seal (rewritten, or copied from another key)"
            )
        return body
