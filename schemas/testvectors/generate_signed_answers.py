"""Writes ``signed_answers.json``: test vectors of the canonical signed-answer bytes
(README, "Signed answers"), computed by ``intermission_schemas.signing_payload`` itself.

Run ``uv run python schemas/testvectors/generate_signed_answers.py`` after the payload changes
(a new member, say); ``tests/signing`` checks the file is what this writes, that Python verifies
every vector, and that a signer in Node written from the README reproduces every one.

Each vector holds the record as it travels (``resume``, JSON text, so that numbers keep their
wire form), the pending calls as ``InterruptRaised`` showed them (``pending``, JSON text), the
keys, and what a signer must produce: ``callDigests``, ``payload`` (the signed bytes, as text),
``hmacSha256`` and ``ed25519`` (the ``signature.value`` for each algorithm).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from intermission_schemas import call_digest, decode_resume, signing_payload

HERE = Path(__file__).parent
TARGET = HERE / "signed_answers.json"
ED25519_SEED = hashlib.sha256(b"intermission signed-answer test vectors: alice").digest()
PAUSE_DIGEST = hashlib.sha256(b"a pause").hexdigest()


def _signature(key_id: str, issued: str, expires: str, calls: dict[str, str]) -> dict[str, Any]:
    return {
        "keyId": key_id,
        "algorithm": "hmac-sha256",
        "issuedAt": issued,
        "expiresAt": expires,
        "calls": calls,
        "value": "",
    }


def _digests(pending: list[dict[str, Any]]) -> dict[str, str]:
    return {p["ref"]: call_digest(p["tool"], p["input"]) for p in pending}


def _case(
    name: str,
    note: str,
    secret: str,
    resume: dict[str, Any],
    pending: list[dict[str, Any]],
    key_id: str,
    issued: str,
    expires: str,
    wire: str | None = None,
) -> dict[str, Any]:
    """One vector. ``wire``, when given, is the record's JSON text with ``{signature}`` where
    the signature goes: for number forms msgspec would not write (``1e+21``, ``1E2``, ``-0``)."""
    signature = _signature(key_id, issued, expires, _digests(pending))
    if wire is None:
        text = msgspec.json.encode({**resume, "signature": signature}).decode()
    else:
        text = wire.replace("{signature}", msgspec.json.encode(signature).decode())
    event = decode_resume(text.encode())
    assert event.signature is not None
    payload = signing_payload(
        event,
        key_id=event.signature.key_id,
        issued_at=event.signature.issued_at,
        expires_at=event.signature.expires_at,
        calls=event.signature.calls,
    )
    return {
        "name": name,
        "note": note,
        "resume": text,
        "pending": msgspec.json.encode(pending).decode(),
        "hmacSecret": secret,
        "callDigests": signature["calls"],
        "payload": payload.decode(),
        "hmacSha256": hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest(),
        "ed25519": Ed25519PrivateKey.from_private_bytes(ED25519_SEED).sign(payload).hex(),
    }


TRANSFER = {
    "ref": "transferMoney-4-0",
    "tool": "transferMoney",
    "input": {"toAccountId": "ABC123", "amount": 100000},
}
QUESTION = {"ref": "askQuestion-3-0", "tool": "askQuestion", "input": {"choices": ["Saturday", "Sunday"]}}


def vectors() -> dict[str, Any]:
    base = {
        "type": "ResumeRequested",
        "version": 1,
        "runId": "run-1",
        "resumeId": "resume-1",
        "snapshotVersion": 1,
    }
    cases = [
        _case(
            "respond",
            "One answer that gives the output; whole seconds in UTC.",
            "ops-console-secret",
            {
                **base,
                "respond": [{"ref": "askQuestion-3-0", "output": "Saturday"}],
                "answeredBy": "alice",
                "pauseDigest": PAUSE_DIGEST,
            },
            [QUESTION],
            "alice",
            "2026-12-06T17:00:00Z",
            "2026-12-06T17:15:00Z",
        ),
        _case(
            "restart-replaced-input",
            'A restart with a replaced input and one without; no answeredBy or pauseDigest (signed as "" '
            "and null); fractions of seconds and an offset in the dates; a secret that is not ASCII.",
            "clé secrète",
            {
                **base,
                "snapshotVersion": 3,
                "restart": [
                    {
                        "ref": "transferMoney-4-0",
                        "resumed": {"status": "APPROVED"},
                        "replaceInput": {"toAccountId": "ABC123", "amount": 100},
                        "replacesInput": True,
                    },
                    {"ref": "askQuestion-3-0"},
                ],
            },
            [TRANSFER, QUESTION],
            "ops-console",
            "2026-12-06T17:00:00.5Z",
            "2026-12-06T19:15:00.123456+02:00",
        ),
        _case(
            "text-and-key-order",
            "Keys sorted by code point at every depth (U+E000 before U+1F600, unlike UTF-16 order), "
            "escapes of control characters, and characters written as they are.",
            "ops-console-secret",
            {
                **base,
                "respond": [
                    {
                        "ref": "askQuestion-3-0",
                        "output": {
                            "b": 1,
                            "a": 2,
                            "B": 3,
                            "é": 4,
                            "\ue000": 5,
                            "\U0001f600": 6,
                            "a b": 7,
                            "": 8,
                            "text": 'tab\there "quoted" back\\slash /slash \b\f\n\r \x00\x1f\x7f \u2028 é 😀',
                        },
                        "metadata": {"z": [{"d": 1, "c": 2}], "y": None, "x": True},
                    }
                ],
                "answeredBy": "Zoë 😀",
                "pauseDigest": PAUSE_DIGEST,
            },
            [{**QUESTION, "input": {"choices": ["Saturday", "Sunday"], "Éclair": {"b": 1, "a": [3, 2, 1]}}}],
            "ops-console",
            "2026-12-06T17:00:00Z",
            "2026-12-06T17:15:00Z",
        ),
        _case(
            "numbers",
            "Numbers keep the kind they have on the wire: without '.', 'e' or 'E' an integer, else a double "
            "(1e+21 signs as 1e21, 1E2 as 100.0, -0 as 0, -0.0 as -0.0).",
            "ops-console-secret",
            {},
            [{**TRANSFER, "input": {"toAccountId": "ABC123", "amount": 12.5, "fee": 1.0, "count": 3}}],
            "ops-console",
            "2026-12-06T17:00:00Z",
            "2026-12-06T17:15:00Z",
            wire='{"type":"ResumeRequested","version":1,"runId":"run-1","resumeId":"resume-1","snapshotVersion":1,'
            '"respond":[{"ref":"transferMoney-4-0","output":{"integers":[0,-0,1,-7,100,9007199254740991,'
            "-9007199254740991,1000000000000000000000],"
            '"doubles":[1.0,100.0,0.5,0.1,-2.25,1e+21,1E2,1e-7,0.000001,0.00001,0.0001,-0.0,0.0,'
            "123456789012345680000.5,9999999999999998.0,1e16,1.5e300,5e-324,12345.678,2.5e-8]}}],"
            '"answeredBy":"alice","signature":{signature}}',
        ),
    ]
    return {
        "about": "Canonical signed-answer bytes (README: Signed answers). Written by "
        "generate_signed_answers.py from intermission_schemas.signing_payload; do not edit by hand.",
        "ed25519Seed": ED25519_SEED.hex(),
        "ed25519PublicKey": Ed25519PrivateKey.from_private_bytes(ED25519_SEED)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
        .hex(),
        "vectors": cases,
    }


def render() -> str:
    return json.dumps(vectors(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET}")
