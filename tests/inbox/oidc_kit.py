"""A real OpenID Connect provider for the identity tests: node-oidc-provider 9 (tests/oidc/).

It is installed from tests/oidc/package-lock.json on first use (`npm ci`). No node or npm is a
failure that says so, never a skip. The provider signs with a key made here, so tests can also
sign the tokens it must refuse (expired, wrong audience, ...) with the very same key.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

HERE = Path(__file__).resolve().parents[1] / "oidc"
CLIENT_ID = "intermission-inbox"
CLIENT_SECRET = "inbox-client-secret"
AUDIENCE = "https://inbox.test"  # of the provider's JWT access tokens


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed to run the OIDC provider (Node 20+)", pytrace=False)
    if not (HERE / "node_modules" / "oidc-provider").exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return node


@dataclass
class Provider:
    issuer: str
    key: rsa.RSAPrivateKey
    kid: str

    @property
    def discovery(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    async def access_token(self) -> str:
        """A JWT access token the provider itself issues (client credentials), for AUDIENCE."""
        async with httpx.AsyncClient() as client:
            metadata = (await client.get(self.discovery)).json()
            reply = await client.post(
                metadata["token_endpoint"],
                data={"grant_type": "client_credentials", "resource": AUDIENCE, "scope": "inbox"},
                auth=(CLIENT_ID, CLIENT_SECRET),
            )
        assert reply.status_code == 200, reply.text
        return str(reply.json()["access_token"])

    def jwk(self, key: rsa.RSAPrivateKey | None = None, kid: str | None = None) -> dict[str, Any]:
        """The public JWK of the provider's key (or of ``key``), as a JWKS lists it."""
        public = json.loads(RSAAlgorithm.to_jwk((key or self.key).public_key()))
        return {**public, "kid": kid or self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = None) -> str:
        """A token signed with the provider's own key (or ``key``), with any claims."""
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid})


@contextlib.asynccontextmanager
async def oidc_provider(redirect_uris: list[str]) -> AsyncIterator[Provider]:
    node = _node()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key))
    jwk.update(kid="test-key-1", alg="RS256", use="sig")
    config = {
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "redirectUris": redirect_uris,
        "audience": AUDIENCE,
        "signingKey": jwk,
    }
    process = await asyncio.create_subprocess_exec(
        node,
        str(HERE / "provider.mjs"),
        json.dumps(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode()
        assert line.startswith("ready "), f"the OIDC provider did not start: {line!r}"
        yield Provider(line.split()[1], key, "test-key-1")
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)
