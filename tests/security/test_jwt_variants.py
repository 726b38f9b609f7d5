"""Bearer JWTs, the attacker's next attempts after issue 17 (the classic forgeries are in
tests/inbox/test_identity_oidc.py): header fields that point at other keys (``jku``, ``x5u``,
``jwk``, a ``kid`` that is a path), a ``crit`` extension the inbox does not know, a token not
valid yet, a huge token, and an email the issuer says is not verified, in the string form some
issuers use. All against a real OIDC provider's JWKS (node-oidc-provider, tests/oidc/)."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from intermission.inbox.identity import Identity, Refusal
from intermission.inbox.oidc import Issuer, JwtVerifier
from jwt.algorithms import RSAAlgorithm
from oidc_kit import AUDIENCE, Provider


def _claims(provider: Provider, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": provider.issuer, "aud": AUDIENCE, "sub": "mallory", "iat": now, "exp": now + 300}
    return {k: v for k, v in {**claims, **changes}.items() if v is not None}


def _signed(provider: Provider, claims: dict[str, Any], key: Any = None, **header: Any) -> str:
    return jwt.encode(claims, key or provider.key, algorithm="RS256", headers={"kid": provider.kid, **header})


async def _who(provider: Provider, token: str) -> Identity | Refusal:
    return await JwtVerifier(Issuer(provider.issuer), AUDIENCE).identity(token, "bearer")


def _mallorys_key() -> tuple[rsa.RSAPrivateKey, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, {**json.loads(RSAAlgorithm.to_jwk(key.public_key())), "kid": "mallory", "alg": "RS256"}


async def test_header_fields_naming_another_key_are_not_followed(provider: Provider) -> None:
    key, jwk = _mallorys_key()
    claims = _claims(provider, sub="alice")
    forged = {
        "jku": _signed(provider, claims, key, jku="http://127.0.0.1:1/jwks.json"),
        "x5u": _signed(provider, claims, key, x5u="http://127.0.0.1:1/cert.pem"),
        "embedded jwk": _signed(provider, claims, key, jwk=jwk),
        "jku with its kid": _signed(provider, claims, key, kid="mallory", jku="http://127.0.0.1:1/j"),
        "kid as a path": _signed(provider, claims, key, kid="../../../dev/null"),
        "kid as a url": _signed(provider, claims, key, kid=f"{provider.issuer}/jwks"),
    }
    for case, token in forged.items():
        assert isinstance(await _who(provider, token), Refusal), case


async def test_a_critical_extension_the_inbox_does_not_know_is_refused(provider: Provider) -> None:
    # RFC 7515, 4.1.11: a recipient that does not understand a "crit" name must reject the JWS.
    token = _signed(provider, {**_claims(provider), "x-scope": "all"}, crit=["x-scope"])
    assert isinstance(await _who(provider, token), Refusal)


async def test_a_token_not_valid_yet_is_refused(provider: Provider) -> None:
    later = int(time.time()) + 3600
    for case, claims in {
        "nbf": _claims(provider, nbf=later, exp=later + 300),
        "iat": _claims(provider, iat=later, exp=later + 300),
    }.items():
        assert isinstance(await _who(provider, _signed(provider, claims)), Refusal), case


async def test_a_huge_token_is_refused_cheaply(provider: Provider) -> None:
    token = _signed(provider, _claims(provider, padding="x" * 2_000_000))
    started = time.perf_counter()
    assert isinstance(await _who(provider, "x" + token), Refusal)
    assert time.perf_counter() - started < 5  # generous: one parse, no quadratic work


@pytest.mark.parametrize("verified", [False, "false", "False", 0, None, "no"])
async def test_an_email_the_issuer_did_not_verify_names_nobody(provider: Provider, verified: object) -> None:
    claims = _claims(provider, email="alice@example.com", sub="mallory")
    claims["email_verified"] = verified
    who = await _who(provider, _signed(provider, claims))
    assert isinstance(who, Identity)
    assert who.name == "mallory"


@pytest.mark.parametrize("verified", [True, "true"])
async def test_an_email_the_issuer_verified_names_its_owner(provider: Provider, verified: object) -> None:
    claims = {**_claims(provider, email="alice@example.com"), "email_verified": verified}
    who = await _who(provider, _signed(provider, claims))
    assert isinstance(who, Identity)
    assert who.name == "alice@example.com"
