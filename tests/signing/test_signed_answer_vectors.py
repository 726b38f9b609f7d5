"""The canonical signed-answer bytes: the spec (README and AsyncAPI carry it verbatim), the test
vectors (up to date with their generator, verified by ``signing_payload``), and a signer in Node
written from the spec alone that reproduces every vector. Node is required: without it the test
fails and says so (never skips)."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from intermission_schemas import asyncapi_document, call_digest, decode_resume, signing_payload
from intermission_schemas._signing_spec import SIGNED_ANSWERS_SPEC

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "schemas" / "testvectors" / "signed_answers.json"
GENERATOR = ROOT / "schemas" / "testvectors" / "generate_signed_answers.py"
SIGNER = Path(__file__).resolve().parent / "signer.mjs"


def _vectors() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))
    return loaded


def test_the_vectors_file_is_what_its_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("generate_signed_answers", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert VECTORS.read_text(encoding="utf-8") == generator.render(), (
        "regenerate: uv run python schemas/testvectors/generate_signed_answers.py"
    )


@pytest.mark.parametrize("vector", _vectors()["vectors"], ids=lambda v: v["name"])
def test_each_vector_is_what_signing_payload_builds_and_verifies(vector: dict[str, Any]) -> None:
    event = decode_resume(vector["resume"].encode())
    signature = event.signature
    assert signature is not None
    signed = msgspec.structs.asdict(signature)
    del signed["algorithm"], signed["value"]  # not covered by the payload
    payload = signing_payload(event, **signed)
    assert payload == vector["payload"].encode()
    pending = msgspec.json.decode(vector["pending"])
    assert {p["ref"]: call_digest(p["tool"], p["input"]) for p in pending} == vector["callDigests"]
    assert signature.calls == vector["callDigests"]
    expected = hmac.new(vector["hmacSecret"].encode(), payload, hashlib.sha256).hexdigest()
    assert expected == vector["hmacSha256"]
    file = _vectors()
    public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(file["ed25519PublicKey"]))
    public.verify(bytes.fromhex(vector["ed25519"]), payload)  # raises when it does not verify
    seed = bytes.fromhex(file["ed25519Seed"])
    assert Ed25519PrivateKey.from_private_bytes(seed).sign(payload).hex() == vector["ed25519"]


def test_readme_and_asyncapi_carry_the_spec_verbatim() -> None:
    assert SIGNED_ANSWERS_SPEC in (ROOT / "README.md").read_text(encoding="utf-8")
    described = asyncapi_document()["components"]["schemas"]["AnswerSignature"]["description"]
    assert SIGNED_ANSWERS_SPEC.strip() in described
    committed = json.loads((ROOT / "schemas" / "jsonschema" / "asyncapi.json").read_text(encoding="utf-8"))
    assert SIGNED_ANSWERS_SPEC.strip() in committed["components"]["schemas"]["AnswerSignature"]["description"]


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node (20+) is needed to run the Node signer, tests/signing/signer.mjs", pytrace=False)
    return found


def test_the_node_signer_reproduces_every_vector() -> None:
    done = subprocess.run(
        [node(), str(SIGNER), "vectors", str(VECTORS)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == {"vectors": len(_vectors()["vectors"]), "misses": []}
