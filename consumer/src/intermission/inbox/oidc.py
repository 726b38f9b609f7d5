"""OIDC tokens: the issuer's discovery document and keys, JWT verification, bearer callers.

Design: only asymmetric algorithms are ever accepted, chosen from the configured list *before*
a key is looked up, and the key must be of the algorithm's family, so neither ``alg: none``
nor an HMAC keyed with the issuer's public key can pass. Keys come from the issuer's JWKS,
cached; a token naming an unknown ``kid`` fetches the set again (the issuer rotated its keys),
at most once per ``refresh_after`` so that made-up kids cannot make the inbox hammer the issuer.
An issuer that does not answer is an `IdentityProviderUnavailableError` (503), never a refusal
of the caller's token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import jwt
from starlette.requests import HTTPConnection

from ..errors import IdentityProviderUnavailableError
from .identity import Identity, Method, Refusal

__all__ = ["ASYMMETRIC", "BearerToken", "Issuer", "JwtVerifier"]

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}  # alg prefix -> JWK kty


@dataclass(frozen=True)
class _Key:
    jwk: jwt.PyJWK
    declared_alg: str | None  # the JWK's own "alg", when it names one

    @property
    def key_type(self) -> str:
        return str(self.jwk.key_type)


class Issuer:
    """One OIDC issuer: its discovery document and signing keys, fetched when first needed."""

    def __init__(
        self,
        url: str,
        *,
        jwks_url: str | None = None,
        refresh_after: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._jwks_url = jwks_url
        self._refresh_after = refresh_after
        self._clock = clock
        self._timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._keys: dict[str | None, _Key] | None = None
        self._tried_at = 0.0
        self._lock = asyncio.Lock()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                reply = await client.get(url)
            reply.raise_for_status()
            data = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailableError(f"{url}: {exc}") from exc
        if not isinstance(data, dict):
            raise IdentityProviderUnavailableError(f"{url}: not a JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            found = await self._get_json(f"{self.url}/.well-known/openid-configuration")
            if str(found.get("issuer", "")).rstrip("/") != self.url:
                # OIDC Discovery 4.3: a document naming another issuer must not be used.
                raise IdentityProviderUnavailableError(
                    f"{self.url}: the discovery document names issuer {found.get('issuer')!r}"
                )
            if not isinstance(found.get("authorization_endpoint"), str):
                raise IdentityProviderUnavailableError(f"{self.url}: no authorization_endpoint")
            self._metadata = found
        return self._metadata

    async def _fetch_keys(self) -> dict[str | None, _Key]:
        url = self._jwks_url or str((await self.metadata()).get("jwks_uri", ""))
        if not url:
            raise IdentityProviderUnavailableError(f"{self.url}: the discovery document has no jwks_uri")
        data = await self._get_json(url)
        keys: dict[str | None, _Key] = {}
        for entry in data.get("keys", []):
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                keys[entry.get("kid")] = _Key(jwt.PyJWK(entry), entry.get("alg"))
            except jwt.PyJWTError:
                continue  # a key type this library cannot use: others in the set may do
        return keys

    async def key(self, kid: str | None) -> _Key | None:
        """The signing key ``kid`` (None: the set's only key), fetching the set again once if
        it is unknown and the last fetch is old enough."""
        if self._keys is not None and (known := _pick(self._keys, kid)) is not None:
            return known  # no lock: a slow fetch for someone's unknown kid must not stall others
        async with self._lock:
            if self._keys is None or (
                _pick(self._keys, kid) is None and self._clock() - self._tried_at >= self._refresh_after
            ):
                self._tried_at = self._clock()  # a failed fetch counts too: no retry storm
                self._keys = await self._fetch_keys()
            return _pick(self._keys, kid)

    async def exchange_code(
        self, *, code: str, redirect_uri: str, verifier: str, client_id: str, client_secret: str | None
    ) -> dict[str, Any] | str:
        """The token endpoint's answer to an authorization code, or why it refused the code."""
        endpoint = str((await self.metadata()).get("token_endpoint", ""))
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        # RFC 6749 2.3.1: both are form-encoded before they are joined.
        auth = (
            httpx.BasicAuth(quote(client_id, safe=""), quote(client_secret, safe=""))
            if client_secret
            else None
        )
        if auth is None:  # a public client names itself; PKCE is its proof
            form["client_id"] = client_id
        try:
            async with httpx.AsyncClient(timeout=self._timeout, auth=auth) as client:
                reply = await client.post(endpoint, data=form)
            data = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise IdentityProviderUnavailableError(f"{endpoint}: {exc}") from exc
        if reply.status_code >= 500 or not isinstance(data, dict):
            raise IdentityProviderUnavailableError(f"{endpoint}: HTTP {reply.status_code}")
        if reply.status_code != 200:
            return f"{data.get('error', 'refused')}: {data.get('error_description', '')}"
        return data


def _pick(keys: dict[str | None, _Key], kid: str | None) -> _Key | None:
    if kid is None and len(keys) == 1:
        return next(iter(keys.values()))
    return keys.get(kid) if kid is not None else None


@dataclass(frozen=True)
class JwtVerifier:
    """Checks a JWT from ``issuer`` for ``audience`` and names its caller."""

    issuer: Issuer
    audience: str
    algorithms: frozenset[str] = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
    identity_claim: str = "email"
    groups_claim: str = "groups"
    leeway: float = 30.0

    async def claims(self, token: str, *, nonce: str | None = None) -> dict[str, Any] | Refusal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            return _bad(f"not a JWT: {exc}")
        alg = header.get("alg")
        if alg not in self.algorithms or alg not in ASYMMETRIC:
            return _bad(f"algorithm {alg!r} is not accepted")
        key = await self.issuer.key(header.get("kid"))
        if key is None:
            return _bad(f"the issuer has no key {header.get('kid')!r}")
        if _KEY_TYPE[alg[:2]] != key.key_type or key.declared_alg not in (None, alg):
            return _bad(f"key {header.get('kid')!r} is not a key for {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer.url,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            return _bad("the token expired")
        except jwt.PyJWTError as exc:
            return _bad(str(exc))
        if nonce is not None and claims.get("nonce") != nonce:
            return _bad("the ID token's nonce is not this login's")
        return claims

    async def identity(self, token: str, method: Method, *, nonce: str | None = None) -> Identity | Refusal:
        claims = await self.claims(token, nonce=nonce)
        if isinstance(claims, Refusal):
            return claims
        return self.identity_from(claims, method)

    def identity_from(self, claims: dict[str, Any], method: Method) -> Identity | Refusal:
        name = claims.get(self.identity_claim)
        if self.identity_claim == "email" and not _verified(claims):
            name = None  # an address the issuer has not verified names nobody: use sub
        name = name or claims.get("sub")
        if not isinstance(name, str) or not name or len(name) > 256:
            return _bad(f"the token has no usable {self.identity_claim!r} or 'sub' claim")
        groups = claims.get(self.groups_claim, [])
        if isinstance(groups, str):
            groups = groups.split()
        if not isinstance(groups, list):
            groups = []
        return Identity(name, tuple(g for g in groups if isinstance(g, str)), method)


def _verified(claims: dict[str, Any]) -> bool:
    """Whether the issuer vouches for the email address. Some issuers send the claim as the
    string "false", which is truthy and is not ``False``: only true (or "true") vouches. An
    issuer that never sends the claim is believed, as before."""
    if "email_verified" not in claims:
        return True
    verified = claims["email_verified"]
    return verified is True or (isinstance(verified, str) and verified.strip().lower() == "true")


def _bad(detail: str) -> Refusal:
    return Refusal(401, "invalid_token", detail)


@dataclass(frozen=True)
class BearerToken:
    """``Authorization: Bearer <jwt>``, or a JWT an access proxy puts in one of ``headers``
    (``X-Forwarded-Access-Token``, ``Cf-Access-Jwt-Assertion``, ...). The token proves itself,
    so it is believed from any peer."""

    verifier: JwtVerifier
    headers: tuple[str, ...] = field(default=())

    async def authenticate(self, request: HTTPConnection) -> Identity | Refusal:
        token = None
        if authorization := request.headers.get("authorization"):
            scheme, _, value = authorization.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                return Refusal(401, "invalid_token", "the Authorization header must be 'Bearer <JWT>'")
            token = value.strip()
        else:
            token = next((request.headers[h] for h in self.headers if h in request.headers), None)
        if token is None:
            return Refusal(401, "no_identity", "no bearer token", absent=True)
        try:
            return await self.verifier.identity(token, "bearer")
        except IdentityProviderUnavailableError as exc:
            return Refusal(503, "identity_provider_unavailable", str(exc))
