"""Tamper evidence for stored snapshots (where they live is ``keys``).

An object is one header line and the stored body:

    intermission-seal/2 hmac-sha256=<hex>\\n{json}          with a seal key configured
    intermission-seal/2 sha256=<hex>\\n{json}               without one (detects corruption only)
    intermission-seal/3 zstd hmac-sha256=<hex>\\n<frame>    the body compressed (``compression``)
    intermission-seal/2 hmac-sha256/k2=<hex>\\n{json}       sealed with key ``k2`` of a key ring

Seal 3 names the codec the body is stored with; seal 2 is a body stored as is, and is still what
an uncompressed body is written as, so releases that know only seal 2 read it. The digest covers
the object's key as well as what is stored (for seal 3: the codec name and the compressed bytes,
checked before anything is decompressed), so a sealed object copied to another key (another
run's snapshot, another step) fails its seal, and so does one whose codec name was changed.
Objects written before keys were sealed (``intermission-seal/1``, body only) still open; the
loader then checks the run and version in the body against the key instead. With a key, nobody
without it can rewrite a snapshot unnoticed. A body that opens but cannot be decompressed, or
names a codec this release does not know, is an UnreadableSnapshotError: handled as tampering.

Seal keys come in a ring (``keyring``): the current key seals, every key of the ring opens what
it sealed, chosen by the id in the seal line. The legacy key (``INTERMISSION_SEAL_KEY``) seals
with no id, as releases before rings did, so a ring of it alone writes what they read; an id the
ring does not hold (a retired key) fails the seal, like any other foreign seal.

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
from .keyring import KeyRing

_CODEC_MAGIC = b"intermission-seal/3 "
_MAGIC = b"intermission-seal/2 "
_LEGACY_MAGIC = b"intermission-seal/1 "
_HMAC = b"hmac-sha256"


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
    are stored; objects of every codec open whatever it is. ``secret``: a key ring, one secret
    (the legacy key alone), or None (sha256 only: detects corruption, not rewriting)."""

    def __init__(self, secret: bytes | KeyRing | None = None, *, compression: Compression = "none") -> None:
        self._ring = KeyRing.single(secret) if isinstance(secret, bytes) else secret
        self.compression: Compression = compression

    def _digest(self, message: bytes) -> bytes:
        """The seal a new object gets: by the ring's current key."""
        if self._ring is None:
            return b"sha256=" + sha256_hex(message).encode()
        return _hmac_seal(self._ring.current_id, self._ring.current_secret, message)

    def _expected(self, key: str, seal: bytes, message: bytes) -> bytes:
        """The seal ``message`` must carry, with the key the stored seal names."""
        if self._ring is None or not seal.startswith(_HMAC):
            return self._digest(message)  # a mismatch of kinds fails the comparison
        key_id: str | None = None
        if seal.startswith(_HMAC + b"/"):
            key_id = seal[len(_HMAC) + 1 :].partition(b"=")[0].decode(errors="replace")
        secret = self._ring.secret(key_id)
        if secret is None:
            held = self._ring.describe()
            named = f"key {key_id!r}" if key_id is not None else "the legacy key (no key id)"
            raise TamperedSnapshotError(key, f"is sealed with {named}, not in this ring ({held})")
        return _hmac_seal(key_id, secret, message)

    def sealed_by_current(self, data: bytes) -> bool:
        """Whether ``data``'s seal line is of this sealer's current kind and key (seal 2 or 3):
        what a rotation leaves alone."""
        header = data.partition(b"\n")[0]
        if not header.startswith((_MAGIC, _CODEC_MAGIC)):
            return False
        return header.rpartition(b" ")[2].startswith(self._digest(b"").partition(b"=")[0] + b"=")

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
            expected = self._expected(key, seal, _keyed(key, _CODEC_MAGIC + codec + b"\n" + stored))
        elif header.startswith(_MAGIC):
            seal = header[len(_MAGIC) :]
            expected = self._expected(key, seal, _keyed(key, stored))
        elif header.startswith(_LEGACY_MAGIC):
            seal = header[len(_LEGACY_MAGIC) :]
            expected = self._expected(key, seal, stored)  # seal 1 covered the body alone
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


def _hmac_seal(key_id: str | None, secret: bytes, message: bytes) -> bytes:
    named = _HMAC if key_id is None else _HMAC + b"/" + key_id.encode()
    return named + b"=" + hmac.new(secret, message, hashlib.sha256).hexdigest().encode()
