"""Signed answers: a worker with answer keys rejects forged, tampered, replayed, expired,
unsigned (when required) and input-mismatched answers, each with its own reason, and the pause
stays open for a good answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from answer_kit import ed25519_pair, paused, rejection, send
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_producer import AnswerKey, build_resume
from intermission_schemas import (
    InterruptRaised,
    ResumeRequested,
    RunCompleted,
    decode_result,
)
from pydantic import SecretStr

KEY = AnswerKey("ops", b"ops-secret")
SETTINGS = Settings(answer_keys=SecretStr("ops=ops-secret,slack=slack-secret"), require_signed_answers=True)
APPROVE = {"status": "APPROVED"}


async def _still_open(service: ServiceHarness, raised: InterruptRaised) -> None:
    """A good signed answer still resumes the pause: the rejection left it open."""
    ref = raised.interrupts[0].ref
    await send(service, build_resume(raised, restart={ref: APPROVE}, answered_by="alice", signing_key=KEY))
    assert isinstance(await service.result(raised.run_id), RunCompleted)


async def test_signed_answer_is_accepted() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service:
        raised = await paused(service, "sig-ok")
        await _still_open(service, raised)


def _restart(raised: InterruptRaised, **options: object) -> ResumeRequested:
    return build_resume(raised, restart={raised.interrupts[0].ref: APPROVE}, answered_by="alice", **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "case", ["unsigned", "forged", "unknown_key", "tampered", "expired", "input_mismatch"]
)
async def test_bad_answers_are_rejected_with_their_reason_and_the_pause_stays_open(case: str) -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service:
        raised = await paused(service, f"sig-{case}")
        if case == "unsigned":
            event, reason = _restart(raised), "unsigned"
        elif case == "forged":
            event, reason = _restart(raised, signing_key=AnswerKey("ops", b"guessed")), "bad_signature"
        elif case == "unknown_key":
            event, reason = _restart(raised, signing_key=AnswerKey("nobody", b"x")), "bad_signature"
        elif case == "tampered":
            # Signed as "REJECTED", then changed to "APPROVED" on the way.
            signed = build_resume(
                raised,
                restart={raised.interrupts[0].ref: {"status": "REJECTED"}},
                answered_by="alice",
                signing_key=KEY,
            )
            changed = [msgspec.structs.replace(signed.restart[0], resumed=APPROVE)]
            event, reason = msgspec.structs.replace(signed, restart=changed), "bad_signature"
        elif case == "expired":
            issued = datetime.now(UTC) - timedelta(minutes=20)
            event, reason = _restart(raised, signing_key=KEY, now=issued, valid_for=60), "signature_expired"
        else:
            # The approver was shown another amount than the call that would run.
            shown = msgspec.structs.replace(
                raised.interrupts[0], input={"toAccountId": "ABC123", "amount": 100}
            )
            seen = msgspec.structs.replace(raised, interrupts=[shown])
            event, reason = _restart(seen, signing_key=KEY), "input_mismatch"
        await send(service, event)
        rejected = await rejection(service, event.resume_id)
        assert rejected.reason == reason, rejected.detail
        await _still_open(service, raised)


async def test_replayed_signed_answer_is_rejected() -> None:
    async with ServiceHarness(demo.ai, settings=SETTINGS) as service:
        raised = await paused(service, "sig-replay")
        event = _restart(raised, signing_key=KEY)
        await send(service, event)
        assert isinstance(await service.result("sig-replay"), RunCompleted)
        await send(service, event)
        assert (await rejection(service, event.resume_id)).reason == "replayed"
        completed = [
            r
            for r in service.log.topics[service.settings.topics.results]
            if isinstance(decode_result(r.value), RunCompleted)
        ]
        # The transfer ran once: a replay (as a redelivery) repeats the stored end, whose
        # first announcement its worker may not have made, and runs nothing.
        assert len({r.value for r in completed}) == 1


async def test_without_keys_unsigned_answers_still_work() -> None:
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "sig-none")
        await send(service, _restart(raised))
        assert isinstance(await service.result("sig-none"), RunCompleted)


async def test_ed25519_keys_per_approver() -> None:
    alice_seed, alice_public = ed25519_pair()
    mallory_seed, _ = ed25519_pair()
    settings = Settings(approver_keys=f"alice={alice_public}", require_signed_answers=True)
    alice = AnswerKey("alice", alice_seed, algorithm="ed25519")
    async with ServiceHarness(demo.ai, settings=settings) as service:
        raised = await paused(service, "ed-1")
        ref = raised.interrupts[0].ref
        cases = [
            # alice's name, someone else's key
            (
                build_resume(
                    raised,
                    restart={ref: APPROVE},
                    answered_by="alice",
                    signing_key=AnswerKey("alice", mallory_seed, algorithm="ed25519"),
                ),
                "bad_signature",
            ),
            # alice's key, but claiming to be bob
            (
                build_resume(raised, restart={ref: APPROVE}, answered_by="bob", signing_key=alice),
                "bad_signature",
            ),
            (build_resume(raised, restart={ref: APPROVE}, answered_by="alice"), "unsigned"),
        ]
        for event, reason in cases:
            await send(service, event)
            assert (await rejection(service, event.resume_id)).reason == reason
        signed = build_resume(raised, restart={ref: APPROVE}, answered_by="alice", signing_key=alice)
        assert signed.signature is not None
        assert signed.signature.algorithm == "ed25519"
        await send(service, signed)
        assert isinstance(await service.result("ed-1"), RunCompleted)


async def test_an_approval_system_key_cannot_speak_for_an_approver_with_her_own_key() -> None:
    seed, public = ed25519_pair()
    settings = Settings(answer_keys=SecretStr("ops=ops-secret"), approver_keys=f"alice={public}")
    async with ServiceHarness(demo.ai, settings=settings) as service:
        raised = await paused(service, "own-key", approvers=["alice"])
        for event, reason in [
            (_restart(raised, signing_key=KEY), "key_not_bound"),
            (_restart(raised), "unsigned"),
        ]:
            await send(service, event)
            assert (await rejection(service, event.resume_id)).reason == reason
        alice = AnswerKey("alice", seed, algorithm="ed25519")
        await send(service, _restart(raised, signing_key=alice))
        assert isinstance(await service.result("own-key"), RunCompleted)
