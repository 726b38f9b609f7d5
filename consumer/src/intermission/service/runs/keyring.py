"""Key rings: the secrets a worker signs with now, and the older ones it still verifies with.

A ring has named keys in order, the first being the one new seals and tokens are made with. One
of them may be the *legacy* key (id ``legacy``): the one secret of the settings before rings
(``INTERMISSION_SEAL_KEY``, ``INTERMISSION_RESUME_TOKEN_SECRET``). Objects and tokens written
with the legacy key carry no key id, exactly as releases before rings wrote them, so a ring
whose current key is the legacy one writes what those releases read. A named key's id goes into what it signs;
a reader picks the secret by that id, and an id the ring does not hold (a retired key) is
refused, never tried against the others.

    "k2=secret2,k1=secret1"        k2 signs, k1 and k2 verify
    "legacy=old,k2=new"           the legacy key signs (no id), both verify
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["KEY_ID_PATTERN", "LEGACY", "KeyRing", "new_key_line", "parse_key_ring"]

# No "." (a token's separator), "=" or "," (the settings' separators), no spaces (a seal line's).
KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The id-less key. Named in a ring, it sets where the legacy key stands: "legacy=old,s2=new"
# keeps it current while every reader learns s2, the first step of a rotation.
LEGACY = "legacy"


class KeyRing:
    """Named secrets in order, the first one current. The id ``legacy`` names the secret that
    signs with no id (the single key of the settings before rings)."""

    def __init__(self, keys: Mapping[str, bytes], legacy: bytes | None = None) -> None:
        keys = dict(keys)
        if legacy is not None and LEGACY in keys and keys[LEGACY] != legacy:
            raise ValueError(f"the {LEGACY} key is given twice, with two secrets")
        if legacy is not None:
            keys.setdefault(LEGACY, legacy)
        for key_id, secret in keys.items():
            if not KEY_ID_PATTERN.match(key_id):
                raise ValueError(f"key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
            if not secret:
                raise ValueError(f"key {key_id!r} has an empty secret")
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self.keys: Mapping[str, bytes] = MappingProxyType(keys)

    @classmethod
    def single(cls, secret: bytes) -> KeyRing:
        """The one secret of the settings before rings: writes and reads without key ids."""
        return cls({LEGACY: secret})

    @property
    def current_id(self) -> str | None:
        """The id new writes carry; None: the legacy key writes, with no id."""
        first = next(iter(self.keys))
        return None if first == LEGACY else first

    @property
    def current_secret(self) -> bytes:
        return next(iter(self.keys.values()))

    @property
    def legacy(self) -> bytes | None:
        return self.keys.get(LEGACY)

    def secret(self, key_id: str | None) -> bytes | None:
        """The secret for ``key_id`` (None: the legacy key), or None once it is retired."""
        return self.keys.get(LEGACY if key_id is None else key_id)

    def describe(self) -> str:
        """Ids only, never secrets: "k2 (current), k1, legacy"."""
        return ", ".join(f"{k} (current)" if i == 0 else k for i, k in enumerate(self.keys))


def parse_key_ring(text: str) -> dict[str, bytes]:
    """``"k2=secret2,k1=secret1"`` -> {key id: secret} in order; ValueError when malformed."""
    keys: dict[str, bytes] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key_id, eq, secret = pair.partition("=")
        key_id = key_id.strip()
        if not eq or not secret:
            raise ValueError("keys are key_id=secret pairs separated by commas, the current one first")
        if not KEY_ID_PATTERN.match(key_id):
            raise ValueError(f"key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} is given twice")
        keys[key_id] = secret.encode()
    if not keys:
        raise ValueError("no keys given")
    return keys


def new_key_line(key_id: str) -> str:
    """A fresh ``key_id=secret`` pair: 32 random bytes, url-safe base64 (no "," or "=")."""
    if not KEY_ID_PATTERN.match(key_id):
        raise ValueError(f"key id {key_id!r} must match {KEY_ID_PATTERN.pattern}")
    return f"{key_id}={secrets.token_urlsafe(32)}"
