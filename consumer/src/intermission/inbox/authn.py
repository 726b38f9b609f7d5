"""The inbox's authenticator from its settings, checked at start.

- ``INTERMISSION_INBOX_OIDC_ISSUER``: bearer JWTs from that issuer are accepted (audience
  ``INTERMISSION_INBOX_OIDC_AUDIENCE``, else the client id); with
  ``INTERMISSION_INBOX_OIDC_CLIENT_ID`` people also sign in at /login.
- ``INTERMISSION_INBOX_IDENTITY_HEADER`` with ``INTERMISSION_INBOX_TRUSTED_PROXIES``: an
  authenticating proxy names the caller.
- Neither: everyone is ``INTERMISSION_INBOX_IDENTITY`` (or the caller's default, e.g. "dev").
  It cannot be combined with the others: a fixed identity next to real ones would let anyone in.

A session, then a bearer token, then the proxy's header is asked, first match deciding.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from ..errors import SettingsError
from ..service.wiring.settings import Settings
from .identity import Authenticator, FirstOf, FixedIdentity, TrustedProxyHeader, parse_networks
from .login import CookieSealer, OidcLogin
from .oidc import ASYMMETRIC, BearerToken, Issuer, JwtVerifier

__all__ = ["authentication"]

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _url(variable: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(variable, f"{value!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise SettingsError(variable, "must be https (plain http only on loopback, for tests)")
    return value


def _proxy(settings: Settings) -> TrustedProxyHeader | None:
    header, proxies = settings.inbox_identity_header, settings.inbox_trusted_proxies
    if header is None and proxies is None:
        return None
    if header is None:
        raise SettingsError("INTERMISSION_INBOX_IDENTITY_HEADER", "is required with trusted proxies")
    try:
        trusted = parse_networks(proxies or "")
    except ValueError as exc:
        raise SettingsError("INTERMISSION_INBOX_TRUSTED_PROXIES", str(exc)) from None
    if not trusted:
        raise SettingsError(
            "INTERMISSION_INBOX_TRUSTED_PROXIES",
            "is required with an identity header: it is believed only from these addresses",
        )
    return TrustedProxyHeader(header, trusted)


def _oidc(settings: Settings) -> tuple[BearerToken, OidcLogin | None] | None:
    issuer_url, client_id = settings.inbox_oidc_issuer, settings.inbox_oidc_client_id
    if issuer_url is None:
        if client_id or settings.inbox_oidc_audience or settings.inbox_oidc_token_headers:
            raise SettingsError("INTERMISSION_INBOX_OIDC_ISSUER", "is required with the other OIDC settings")
        return None
    algorithms = frozenset(_names(settings.inbox_oidc_algorithms))
    if not algorithms or not algorithms <= ASYMMETRIC:
        raise SettingsError(
            "INTERMISSION_INBOX_OIDC_ALGORITHMS",
            f"{sorted(algorithms - ASYMMETRIC) or 'none'}: only {sorted(ASYMMETRIC)} are accepted",
        )
    audience = settings.inbox_oidc_audience or client_id
    if not audience:
        raise SettingsError("INTERMISSION_INBOX_OIDC_AUDIENCE", "is required (or a client id)")
    jwks_url = settings.inbox_oidc_jwks_url
    issuer = Issuer(
        _url("INTERMISSION_INBOX_OIDC_ISSUER", issuer_url),
        jwks_url=_url("INTERMISSION_INBOX_OIDC_JWKS_URL", jwks_url) if jwks_url else None,
    )

    def verifier(for_audience: str) -> JwtVerifier:
        return JwtVerifier(
            issuer,
            for_audience,
            algorithms,
            identity_claim=settings.inbox_oidc_identity_claim,
            groups_claim=settings.inbox_oidc_groups_claim,
        )

    bearer = BearerToken(verifier(audience), _names(settings.inbox_oidc_token_headers))
    if not client_id:
        return bearer, None
    secret = settings.inbox_session_secret
    public_url = settings.inbox_public_url
    login = OidcLogin(
        verifier(client_id),
        client_id,
        settings.inbox_oidc_client_secret.get_secret_value() if settings.inbox_oidc_client_secret else None,
        # Without a configured secret, sessions end with the process and bind to this inbox.
        CookieSealer(secret.get_secret_value().encode() if secret else secrets.token_bytes(32)),
        scopes=settings.inbox_oidc_scopes,
        public_url=_url("INTERMISSION_INBOX_PUBLIC_URL", public_url) if public_url else None,
        session_seconds=settings.inbox_session_seconds,
    )
    return bearer, login


def authentication(settings: Settings, *, default: str) -> tuple[Authenticator, OidcLogin | None]:
    """The authenticator the settings describe, and the login when people sign in here."""
    proxy, oidc = _proxy(settings), _oidc(settings)
    if proxy is None and oidc is None:
        return FixedIdentity(settings.inbox_identity or default), None
    if settings.inbox_identity:
        raise SettingsError(
            "INTERMISSION_INBOX_IDENTITY", "is for an inbox without an identity provider or proxy: unset it"
        )
    bearer, login = oidc if oidc is not None else (None, None)
    chain = tuple(a for a in (login, bearer, proxy) if a is not None)
    return FirstOf(chain), login
