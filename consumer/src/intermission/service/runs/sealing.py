"""Tamper evidence for stored snapshots (where they live is ``keys``).

An object is one header line and the stored body:

    intermission-seal/2 hmac-sha256=<hex>\\n{json}          with a seal key configured
    intermission-seal/2 sha256=<hex>\\n{json}               without one (detects corruption only)
    intermission-seal/3 zstd hmac-sha256=<hex>\\n<frame>    the body compressed (``compression``)

Seal 3 names the codec the body is stored with; seal 2 is a body stored as is, and is still what
an uncompressed body is written as, so releases that know only seal 2 read it. The digest covers
the object's key as well as what is stored (for seal 3: the codec name and the compressed bytes,
checked before anything is decompressed), so a sealed object copied to another key (another
run's snapshot, another step) fails its seal, and so does one whose codec name was changed.
Objects written before keys were sealed (``intermission-seal/1``, body only) still open; the
loader then checks the run and version in the body against the key instead. With a key, nobody
without it can rewrite a snapshot unnoticed. A body that opens but cannot be decompressed, or
names a codec this release does not know, is an UnreadableSnapshotError: handled as tampering.

Each step also records its parent's *pause digest*: the sha256 of the parts of a pause that never
change (run, version, request, history, times, its own parent). Status and collected answers
change by design, so they are left out of it; the answers become part of the next step's
history, which its own digest covers. So the versions of a run form a chain a replay can check
end to end.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import msgspec
from intermission_schemas import GenerateRequest, Snapshot, encode

from ...errors import TamperedSnapshotError, UnreadableSnapshotError
from .compression import Compression, UnreadableBody, compress, decompress

_CODEC_MAGIC = b"intermission-seal/3 "
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
                _digested_request(snapshot.request),
                snapshot.paused,
                snapshot.created_at,
                snapshot.expires_at,
                snapshot.parent_sha256,
            )
        )
    )


# Request fields added after pause digests were first published, with their defaults: left
# out of the digest while at the default, so a pause stored before them keeps the digest its
# InterruptRaised announced (and approvers signed).
_LATER_REQUEST_FIELDS: tuple[tuple[str, object], ...] = (("approvalRules", []), ("requestedBy", None))


def _digested_request(request: GenerateRequest) -> GenerateRequest | dict[str, Any]:
    if all(getattr(request, _snake(name)) == default for name, default in _LATER_REQUEST_FIELDS):
        fields: dict[str, Any] = msgspec.to_builtins(request)
        for name, _ in _LATER_REQUEST_FIELDS:
            fields.pop(name, None)
        return fields
    return request


def _snake(camel: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


class Sealer:
    """Seals bodies for their keys and opens them again. ``compression`` chooses how new objects
    are stored; objects of every codec open whatever it is."""

    def __init__(self, secret: bytes | None = None, *, compression: Compression = "none") -> None:
        self._secret = secret
        self.compression: Compression = compression

    def _digest(self, message: bytes) -> bytes:
        if self._secret is None:
            return b"sha256=" + sha256_hex(message).encode()
        return b"hmac-sha256=" + hmac.new(self._secret, message, hashlib.sha256).hexdigest().encode()

    def seal(self, key: str, body: bytes) -> bytes:
        """``body`` sealed for ``key``: it opens only at that key."""
        codec, payload = compress(self.compression, body)
        if codec == "none":
            return _MAGIC + self._digest(_keyed(key, body)) + b"\n" + body
        header = _CODEC_MAGIC + codec.encode()
        seal = self._digest(_keyed(key, header + b"\n" + payload))
        return header + b" " + seal + b"\n" + payload

    def open(self, key: str, data: bytes) -> bytes:
        """The body, once its seal is checked for this key."""
        header, newline, stored = data.partition(b"\n")
        if not newline:
            raise TamperedSnapshotError(key, "has no seal")
        codec = b"none"
        if header.startswith(_CODEC_MAGIC):
            codec, _, seal = header[len(_CODEC_MAGIC) :].partition(b" ")
            expected = self._digest(_keyed(key, _CODEC_MAGIC + codec + b"\n" + stored))
        elif header.startswith(_MAGIC):
            expected = self._digest(_keyed(key, stored))
            seal = header[len(_MAGIC) :]
        elif header.startswith(_LEGACY_MAGIC):
            expected = self._digest(stored)  # seal 1 covered the body alone
            seal = header[len(_LEGACY_MAGIC) :]
        else:
            raise TamperedSnapshotError(key, "has no seal")
        if not hmac.compare_digest(seal, expected):
            raise TamperedSnapshotError(
                key, "does not match its seal (rewritten, or copied from another key)"
            )
        name = codec.decode(errors="replace")
        try:
            return decompress(name, stored)
        except UnreadableBody as exc:
            raise UnreadableSnapshotError(key, f"cannot be read: {exc}", codec=name) from exc


def _keyed(key: str, stored: bytes) -> bytes:
    # Seal 3 puts its own magic and the codec before the payload, so no seal-2 body (JSON,
    # starting with "{") can be passed off as a seal-3 one, or the other way round.
    return key.encode() + b"\n" + stored
