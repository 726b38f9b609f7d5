"""Rotating every kind of key while runs are paused: seal keys, resume token secrets and answer
keys. Three releases of settings follow one another on one log and one store (in memory, and on
Kafka + SeaweedFS):

    before    the one seal key and token secret of today's settings (no key ids), answer key a1
    rotated   new keys first (s2, t2, a2), the old ones kept: everything paused before resumes
    retired   the old keys removed: what only they signed is refused, with its typed reason

A seal of a retired key closes its pause as tampered (nothing read from it may run); a retired
token is 403 at the inbox (``InvalidToken``) and a retired answer key a ``bad_signature``
rejection that leaves the pause open for a good answer.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from harness import Harness
from intermission.service import Sealer
from intermission.service.runs.keyring import KeyRing
from intermission.service.runs.reseal import reseal
from intermission.service.runs.signatures import AnswerKeys
from intermission.service.runs.tokens import InvalidToken, ResumeTokens
from intermission_producer import AnswerKey, build_resume
from intermission_schemas import InterruptRaised, ResumeRejected, RunCompleted, RunFailed

SEAL_1, SEAL_2 = b"seal-one", b"seal-two"
TOKEN_1, TOKEN_2 = b"token-one", b"token-two"
A1, A2 = AnswerKey("a1", b"answer-one"), AnswerKey("a2", b"answer-two")

STAGES: dict[str, dict[str, Any]] = {
    "before": {
        "seal_key": SEAL_1,
        "tokens": ResumeTokens(TOKEN_1),
        "answer_keys": AnswerKeys({"a1": A1.secret}, required=True),
    },
    "rotated": {
        "seal_key": KeyRing({"s2": SEAL_2}, legacy=SEAL_1),
        "tokens": ResumeTokens(KeyRing({"t2": TOKEN_2}, legacy=TOKEN_1)),
        "answer_keys": AnswerKeys({"a2": A2.secret, "a1": A1.secret}, required=True),
    },
    "retired": {
        "seal_key": KeyRing({"s2": SEAL_2}),
        "tokens": ResumeTokens(KeyRing({"t2": TOKEN_2})),
        "answer_keys": AnswerKeys({"a2": A2.secret}, required=True),
    },
}


def _approve(raised: InterruptRaised, key: AnswerKey, tokens: ResumeTokens | None = None) -> Any:
    """The approval a person gives: signed with ``key``; through the pending ref's resume token
    when ``tokens`` (the inbox's ring) is given, as the inbox redeems one."""
    [interrupt] = raised.interrupts
    resume_id = None
    if tokens is not None:
        assert interrupt.token is not None
        claims = tokens.open(interrupt.token)
        assert (claims.run_id, claims.ref) == (raised.run_id, interrupt.ref)
        resume_id = claims.resume_id
    return build_resume(
        raised,
        restart={interrupt.ref: {"status": "APPROVED"}},
        answered_by="alice",
        signing_key=key,
        resume_id=resume_id,
    )


async def _pause(harness: Harness, name: str) -> InterruptRaised:
    run_id = f"rot-{name}-{uuid.uuid4().hex[:6]}"
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    return await harness.approval(run_id)


async def _resume(harness: Harness, event: Any) -> None:
    await harness.send(harness.backend.topics.resumes, event.run_id, event)


async def test_every_key_rotates_while_runs_are_paused(harness: Harness) -> None:
    topics = harness.backend.topics
    worker = await harness.start_worker(**STAGES["before"])
    old = {name: await _pause(harness, name) for name in ("old-key", "new-key", "token", "idle", "resealed")}
    assert all(r.interrupts[0].token and r.interrupts[0].token.count(".") == 1 for r in old.values())
    await worker.stop()

    worker = await harness.start_worker(**STAGES["rotated"])
    rotated: ResumeTokens = STAGES["rotated"]["tokens"]
    # Paused before the rotation, resumed after it: with the old answer key, with the new one,
    # and through a token minted with the old secret.
    await _resume(harness, _approve(old["old-key"], A1))
    await _resume(harness, _approve(old["new-key"], A2))
    await _resume(harness, _approve(old["token"], A2, rotated))
    for name in ("old-key", "new-key", "token"):
        await harness.result(old[name].run_id, RunCompleted)
    new = {name: await _pause(harness, name) for name in ("new", "late-answer")}
    new_token = new["new"].interrupts[0].token
    assert new_token is not None
    assert new_token.split(".")[1] == "t2"
    # Before the old seal key goes, `keys reseal` rewrites the bucket with the new one while
    # workers run; here one run's objects only, so that "idle" shows what skipping it costs.
    resealing = Sealer(STAGES["rotated"]["seal_key"])
    report = await reseal(harness.backend.store, resealing, f"runs/{old['resealed'].run_id}/")
    assert report.resealed
    assert not report.refused
    again = await reseal(harness.backend.store, resealing, f"runs/{old['resealed'].run_id}/")
    assert (again.resealed, again.current) == (0, report.resealed)
    await worker.stop()

    worker = await harness.start_worker(**STAGES["retired"])
    retired: ResumeTokens = STAGES["retired"]["tokens"]
    # Paused under the new keys: they outlive the old ones.
    await _resume(harness, _approve(new["new"], A2, retired))
    await harness.result(new["new"].run_id, RunCompleted)
    # A retired answer key: rejected, and the pause stays open for a good answer.
    late = new["late-answer"]
    refused = _approve(late, A1)
    await _resume(harness, refused)
    rejected = await harness.wait_for(
        lambda: next(
            (
                r
                for r in harness.results
                if isinstance(r, ResumeRejected) and r.resume_id == refused.resume_id
            ),
            None,
        )
    )
    assert rejected.reason == "bad_signature", rejected.detail
    await _resume(harness, _approve(late, A2))
    await harness.result(late.run_id, RunCompleted)
    # Resealed before the old seal key was retired: resumes.
    await _resume(harness, _approve(old["resealed"], A2))
    await harness.result(old["resealed"].run_id, RunCompleted)
    # A retired token secret: the inbox refuses the token.
    with pytest.raises(InvalidToken):
        retired.open(old["idle"].interrupts[0].token or "")
    # A pause sealed with a retired seal key: closed as tampered, nothing of it runs.
    await _resume(harness, _approve(old["idle"], A2))
    failed = await harness.result(old["idle"].run_id, RunFailed)
    assert failed.code == "tampered"
    [dead] = await harness.wait_for(lambda: [d for d in harness.dead_letters if d.topic == topics.resumes])
    assert dead.reason == "tampered"
    assert "legacy key" in dead.detail
    await worker.stop()
