"""A forged answer never fails a run (issue 17, findings 6 and 11): a wrong pause digest, a
signature that is junk, each is a ResumeRejected for that answer with its own reason, and the
pause stays open for a good answer. Only tampering with the store fails a run, and then the run
is closed: no later answer completes it."""

from __future__ import annotations

import msgspec
from answer_kit import paused, rejection, send, terminal
from intermission.service import snapshot_key
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_producer import AnswerKey, build_resume
from intermission_schemas import RunCompleted, RunFailed
from pydantic import SecretStr

APPROVE = {"status": "APPROVED"}
KEY = AnswerKey("ops", b"ops-secret")


async def test_a_wrong_pause_digest_is_rejected_and_the_pause_stays_open() -> None:
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "forged-digest")
        ref = raised.interrupts[0].ref
        good = build_resume(raised, restart={ref: APPROVE}, answered_by="alice")
        forged = msgspec.structs.replace(good, resume_id="forged", pause_digest="0" * 64)
        await send(service, forged)
        rejected = await rejection(service, "forged")
        assert rejected.reason == "digest_mismatch"
        await send(service, good)
        assert isinstance(await service.result("forged-digest"), RunCompleted)
        assert [type(e) for e in terminal(service, "forged-digest")] == [RunCompleted]
        assert service.dead_letters() == []


async def test_a_non_ascii_signature_is_a_rejection_not_a_poison_record() -> None:
    settings = Settings(answer_keys=SecretStr("ops=ops-secret"), require_signed_answers=True)
    async with ServiceHarness(demo.ai, settings=settings) as service:
        raised = await paused(service, "forged-sig")
        ref = raised.interrupts[0].ref
        signed = build_resume(raised, restart={ref: APPROVE}, answered_by="alice", signing_key=KEY)
        assert signed.signature is not None
        junk = msgspec.structs.replace(signed.signature, value="é" * 64)
        forged = msgspec.structs.replace(signed, resume_id="junk", signature=junk)
        await send(service, forged)
        assert (await rejection(service, "junk")).reason == "bad_signature"
        assert service.dead_letters() == []
        await send(service, signed)
        assert isinstance(await service.result("forged-sig"), RunCompleted)


async def test_a_run_failed_as_tampered_is_closed_to_later_answers() -> None:
    """The store is tampered with, the run fails; the attacker puts the pause back and answers
    again: the run has ended, and ends once."""
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "tampered-closed")
        ref = raised.interrupts[0].ref
        key = snapshot_key("tampered-closed", 1)
        stored = await service.store.get(key)
        assert stored is not None
        broken = await service.store.replace(key, stored.data.replace(b"1000", b"9000"), stored.etag)
        first = build_resume(raised, restart={ref: APPROVE}, answered_by="alice", resume_id="first")
        await send(service, first)
        failed = await service.result("tampered-closed")
        assert isinstance(failed, RunFailed)
        assert failed.code == "tampered"
        await service.store.replace(key, stored.data, broken)  # the original, validly sealed
        again = build_resume(raised, restart={ref: APPROVE}, answered_by="alice", resume_id="again")
        await send(service, again)
        assert (await rejection(service, "again")).reason == "stale"
        ends = terminal(service, "tampered-closed")
        assert [(type(e), getattr(e, "code", None)) for e in ends] == [(RunFailed, "tampered")]
