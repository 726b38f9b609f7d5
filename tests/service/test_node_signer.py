"""Answers signed in Node (tests/signing/signer.mjs: node:crypto only, written from the README's
"Signed answers" spec), published as the bytes Node wrote, are accepted by a worker that requires
signatures: HMAC-SHA256 and Ed25519, respond and restart, with text and numbers whose canonical
forms differ between JavaScript and Python. On the in-memory log and on Kafka + SeaweedFS."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from harness import Harness
from intermission.service.runs.signatures import AnswerKeys
from intermission_schemas import InterruptRaised, ResumeRejected, RunCompleted, encode

SIGNER = Path(__file__).resolve().parents[1] / "signing" / "signer.mjs"
SEED = hashlib.sha256(b"alice's approver key").digest()
PUBLIC = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
KEYS = AnswerKeys({"ops": "ops-secret \u00e9".encode()}, approver_keys={"alice": PUBLIC}, required=True)
HMAC_KEY = {"algorithm": "hmac-sha256", "keyId": "ops", "secret": "ops-secret \u00e9"}
ED25519_KEY = {"algorithm": "ed25519", "keyId": "alice", "seed": SEED.hex()}
# What canonical JSON must get right: key order by code point, escapes, and numbers that
# JavaScript and Python write differently (0.000001 is 1e-6 in Python; 1e21 is 1e+21 in JS).
APPROVED = {
    "status": "APPROVED",
    "note": 'ok \u00e9 \U0001f600 \u2028 "quoted" \\ / \t',
    "numbers": [0.000001, 1e21, 0.1, 12.5, 100, -0.0],
    "keys": {"b": 1, "a": 2, "\U0001f600": 3, "\ue000": 4, "B": 5},
}


async def _sign(raised: InterruptRaised, key: dict[str, str], **answer: Any) -> bytes:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node (20+) is needed to run the Node signer, tests/signing/signer.mjs", pytrace=False)
    request = {
        "raised": encode(raised).decode(),
        # alice holds an Ed25519 key of her own, so only that key speaks for her (key_not_bound
        # otherwise): the approval system's HMAC key answers for bob.
        "answeredBy": key["keyId"] if key["algorithm"] == "ed25519" else "bob",
        "resumeId": f"node-{raised.run_id}",
        **answer,
        "key": key,
    }
    process = await asyncio.create_subprocess_exec(
        node,
        str(SIGNER),
        "sign",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(json.dumps(request).encode()), 60)
    assert process.returncode == 0, err.decode()
    return out


async def _publish(harness: Harness, run_id: str, value: bytes) -> None:
    await harness.backend.publisher.publish(harness.backend.topics.resumes, run_id, value)


async def test_answers_signed_in_node_are_accepted(harness: Harness) -> None:
    worker = await harness.start_worker(answer_keys=KEYS)
    try:
        await harness.submit("node-hmac", "transfer", tools=["transferMoney"])
        await harness.submit("node-ed25519", "transfer", tools=["transferMoney"])
        await harness.submit("node-respond", "two questions", tools=["askQuestion"])
        hmac_run = await harness.approval("node-hmac")
        ed_run = await harness.approval("node-ed25519")
        questions = await harness.approval("node-respond")
        restart = {"restart": {hmac_run.interrupts[0].ref: APPROVED}}
        await _publish(harness, "node-hmac", await _sign(hmac_run, HMAC_KEY, **restart))
        restart = {"restart": {ed_run.interrupts[0].ref: APPROVED}}
        await _publish(harness, "node-ed25519", await _sign(ed_run, ED25519_KEY, **restart))
        [day, food] = questions.interrupts
        respond = {"respond": {day.ref: "Saturday \U0001f600", food.ref: "tacos"}}
        await _publish(harness, "node-respond", await _sign(questions, HMAC_KEY, **respond))
        for run_id in ("node-hmac", "node-ed25519", "node-respond"):
            done = await harness.result(run_id, RunCompleted)
            assert "done" in done.text
        assert not [r for r in harness.results if isinstance(r, ResumeRejected)]
    finally:
        await worker.stop()


async def test_a_node_answer_under_a_wrong_secret_is_rejected(harness: Harness) -> None:
    worker = await harness.start_worker(answer_keys=KEYS)
    try:
        await harness.submit("node-wrong", "transfer", tools=["transferMoney"])
        raised = await harness.approval("node-wrong")
        wrong = {**HMAC_KEY, "secret": "ops-secret e"}
        await _publish(
            harness, "node-wrong", await _sign(raised, wrong, restart={raised.interrupts[0].ref: APPROVED})
        )
        rejected = await harness.result("node-wrong", ResumeRejected)
        assert rejected.reason == "bad_signature"
    finally:
        await worker.stop()
