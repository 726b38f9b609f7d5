"""Webhook subscriptions, read once at start from the file ``INTERMISSION_WEBHOOKS_FILE``.

    subscriptions:
      - id: tickets
        url: https://tickets.example.com/hooks/intermission
        secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
        filter: {tools: [transferMoney], tags: {team: payments}, approvers: ["@finance"]}
        outcomes: true   # RunCompleted, RunFailed, ResumeRejected as well as InterruptRaised

A file that is not right (not YAML/JSON, a URL that is not http(s), a missing or malformed
secret, two subscriptions with one id) fails the start with a `WebhookConfigError` naming the
entry: a dispatcher that silently skips a subscription would lose its deliveries.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import msgspec

from ..errors import WebhookConfigError

__all__ = ["Subscription", "SubscriptionFilter", "load_subscriptions", "parse_subscriptions"]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class SubscriptionFilter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which events a subscription gets; an empty list or mapping matches everything."""

    tools: tuple[str, ...] = ()  # an interrupt of one of these tools
    tags: dict[str, str] = {}  # every one of these run tags, with this value
    # a run that names one of these among its approvers (names and @groups, as written)
    approvers: tuple[str, ...] = ()


class Subscription(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(pattern=_ID)]
    url: str
    secret: str  # Standard Webhooks: "whsec_" + base64 of the key
    filter: SubscriptionFilter = SubscriptionFilter()
    outcomes: bool = False  # also RunCompleted, RunFailed and ResumeRejected of matching runs

    def __repr__(self) -> str:  # never the secret in a log line or a traceback
        return f"Subscription(id={self.id!r}, url={self.url!r})"


class _File(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    subscriptions: tuple[Subscription, ...]


def load_subscriptions(path: str) -> tuple[Subscription, ...]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WebhookConfigError(path, "the file", f"cannot be read: {exc.strerror or exc}") from None
    return parse_subscriptions(data, path)


def parse_subscriptions(data: bytes, path: str) -> tuple[Subscription, ...]:
    """The subscriptions of a file's bytes (JSON for a .json path, YAML otherwise)."""
    try:
        if path.endswith(".json"):
            parsed = msgspec.json.decode(data, type=_File)
        else:
            parsed = msgspec.yaml.decode(data, type=_File)
    except msgspec.ValidationError as exc:
        raise WebhookConfigError(path, "the file", str(exc)) from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise WebhookConfigError(path, "the file", f"is not valid YAML or JSON: {exc}") from None
    seen: set[str] = set()
    for index, subscription in enumerate(parsed.subscriptions):
        where = f"subscriptions[{index}] ({subscription.id})"
        if subscription.id in seen:
            raise WebhookConfigError(path, where, "a second subscription with this id")
        seen.add(subscription.id)
        _check_url(path, where, subscription.url)
        _check_secret(path, where, subscription.secret)
    return parsed.subscriptions


def _check_url(path: str, where: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookConfigError(path, where, f"url must be an http(s) URL with a host, not {url!r}")


def _check_secret(path: str, where: str, secret: str) -> None:
    encoded = secret.removeprefix("whsec_")
    if not secret.startswith("whsec_") or not re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", encoded):
        raise WebhookConfigError(path, where, "secret must be whsec_ followed by base64")
    try:
        key = base64.b64decode(encoded + "==")
    except binascii.Error:
        raise WebhookConfigError(path, where, "secret must be whsec_ followed by base64") from None
    if len(key) < 16:
        raise WebhookConfigError(path, where, "secret must hold at least 16 bytes")
