"""Resume tokens: one opaque, signed token per pending ref, so that a webhook, a Slack button or
any system without Kafka or keys can answer one interrupt with one HTTP call.

A token names a run, a pause version, a ref and when it stops being valid (the pause's expiry,
or never when the pause has none), and carries an HMAC-SHA256 of those under the token secret
(``INTERMISSION_RESUME_TOKEN_SECRET``). The worker mints tokens into ``InterruptRaised``; the
inbox checks them. Whoever holds the secret can mint tokens, so it is shared only by workers and
inboxes. A token is single-use because the resume it becomes has an id derived from the token:
the worker applies a resume id at most once, and an answered ref is never answered again.

    <base64url(json [run_id, version, ref, expires_epoch_or_0])>.<base64url(hmac)>
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import msgspec

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
    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("a resume token secret must not be empty")
        self._secret = secret

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, _CONTEXT + body.encode(), hashlib.sha256).digest())

    def mint(self, run_id: str, snapshot_version: int, ref: str, expires_at: datetime | None) -> str:
        expires = int(expires_at.timestamp()) if expires_at is not None else 0
        body = _b64(msgspec.json.encode([run_id, snapshot_version, ref, expires]))
        return f"{body}.{self._mac(body)}"

    def open(self, token: str) -> TokenClaims:
        """The claims of a token this secret signed; InvalidToken otherwise."""
        body, dot, mac = token.partition(".")
        if not dot or not hmac.compare_digest(mac, self._mac(body)):
            raise InvalidToken("the token is not one of ours")
        try:
            run_id, version, ref, expires = msgspec.json.decode(_unb64(body))
        except (ValueError, msgspec.DecodeError) as exc:
            raise InvalidToken("the token is malformed") from exc
        at = datetime.fromtimestamp(expires, UTC) if expires else None
        return TokenClaims(str(run_id), int(version), str(ref), at)
