"""Resume tokens: one opaque, signed token per pending ref, so that a webhook, a Slack button or
any system without Kafka or keys can answer one interrupt with one HTTP call.

A token names a run, a pause version, a ref and when it stops being valid (the pause's expiry,
or never when the pause has none), and carries an HMAC-SHA256 of those under the token secret
(``INTERMISSION_RESUME_TOKEN_SECRET``). The worker mints tokens into ``InterruptRaised``; the
inbox checks them. Whoever holds the secret can mint tokens, so it is shared only by workers and
inboxes. A token is single-use because the resume it becomes has an id derived from the token:
the worker applies a resume id at most once, and an answered ref is never answered again.

    <base64url(json [run_id, version, ref, expires_epoch_or_0])>.<base64url(hmac)>
    <base64url(json [...])>.<key id>.<base64url(hmac)>          signed by a named key of a ring

Secrets come in a ring (``keyring``, ``INTERMISSION_RESUME_TOKEN_SECRETS``): the current key
mints, every key of the ring checks the tokens it minted, chosen by the id in the token; the
legacy secret (``INTERMISSION_RESUME_TOKEN_SECRET``) mints tokens with no id, as releases before
rings did. A token whose key was retired is refused like a forged one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import msgspec

from .keyring import KeyRing

__all__ = ["InvalidToken", "ResumeTokens", "TokenClaims"]

_CONTEXT = b"intermission-resume-token/1\n"


class InvalidToken(Exception):
    """The token is malformed or its signature does not match."""


class TokenClaims(msgspec.Struct, frozen=True):
    run_id: str
    snapshot_version: int
    ref: str
    expires_at: datetime | None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    @property
    def resume_id(self) -> str:
        """The resume id every use of this token gets: a second use is the same resume."""
        digest = hashlib.sha256(msgspec.json.encode([self.run_id, self.snapshot_version, self.ref]))
        return "token-" + digest.hexdigest()[:40]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ResumeTokens:
    def __init__(self, secret: bytes | KeyRing) -> None:
        if not secret:
            raise ValueError("a resume token secret must not be empty")
        self.ring = KeyRing.single(secret) if isinstance(secret, bytes) else secret

    @staticmethod
    def _mac(secret: bytes, body: str) -> str:
        return _b64(hmac.new(secret, _CONTEXT + body.encode(), hashlib.sha256).digest())

    def mint(self, run_id: str, snapshot_version: int, ref: str, expires_at: datetime | None) -> str:
        expires = int(expires_at.timestamp()) if expires_at is not None else 0
        body = _b64(msgspec.json.encode([run_id, snapshot_version, ref, expires]))
        mac = self._mac(self.ring.current_secret, body)
        key_id = self.ring.current_id
        return f"{body}.{mac}" if key_id is None else f"{body}.{key_id}.{mac}"

    def open(self, token: str) -> TokenClaims:
        """The claims of a token a key of this ring signed; InvalidToken otherwise."""
        parts = token.split(".")
        if not token.isascii() or len(parts) not in (2, 3):
            raise InvalidToken("the token is not one of ours")
        body, mac = parts[0], parts[-1]
        key_id = parts[1] if len(parts) == 3 else None
        secret = self.ring.secret(key_id)
        if secret is None:
            raise InvalidToken("the token's key is not one of ours (retired, or never ours)")
        # Checked to be ASCII first: compare_digest refuses non-ASCII text with a TypeError.
        if not hmac.compare_digest(mac, self._mac(secret, body)):
            raise InvalidToken("the token is not one of ours")
        try:
            run_id, version, ref, expires = msgspec.json.decode(_unb64(body))
        except (ValueError, TypeError, msgspec.DecodeError) as exc:
            raise InvalidToken("the token is malformed") from exc
        at = datetime.fromtimestamp(expires, UTC) if expires else None
        return TokenClaims(str(run_id), int(version), str(ref), at)
