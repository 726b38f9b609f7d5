"""One person under two spellings (issue 17 follow-up): the worker compared answerers' names
byte for byte, so the requester approved her own run as "Alice" or "alice\u200b", one approver
counted twice towards an N-of-M rule, and an approval system's key spoke for an approver with
her own Ed25519 key by changing the case of her name. Names now compare as the same person
after Unicode compatibility folding, case folding and dropping invisible characters."""

from __future__ import annotations

import pytest
from answer_kit import ed25519_pair, paused, rejection, send, terminal
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_producer import AnswerKey, build_resume
from intermission_schemas import ApprovalRule, InterruptRaised, ResumeRequested, RunCompleted
from pydantic import SecretStr

APPROVE = {"status": "APPROVED"}
SPELLINGS = [
    "Alice",  # case
    " alice ",  # surrounding whitespace
    "al\u200bice",  # a zero-width space
    "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth letters (NFKC folds them to "alice")
    "ALICE\u00ad",  # a soft hyphen, invisible
]


def _approve(raised: InterruptRaised, who: str, **options: object) -> ResumeRequested:
    approval = {raised.interrupts[0].ref: APPROVE}
    return build_resume(raised, restart=approval, answered_by=who, **options)  # type: ignore[arg-type]


async def _refused(service: ServiceHarness, answer: ResumeRequested) -> str:
    """The reason the worker gives for refusing ``answer``."""
    await send(service, answer)
    refusal = await rejection(service, answer.resume_id)
    return refusal.reason


@pytest.mark.parametrize("spelling", SPELLINGS)
async def test_the_requester_cannot_approve_her_own_run_under_another_spelling(spelling: str) -> None:
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "self-spelled", requested_by="alice")
        assert await _refused(service, _approve(raised, spelling)) == "self_approval"
        assert terminal(service, "self-spelled") == []


async def test_one_approver_under_two_spellings_counts_once() -> None:
    rule = ApprovalRule(tool="transferMoney", required=2)
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "twice", approval_rules=[rule])
        await send(service, _approve(raised, "alice", resume_id="first"))
        await service.interrupt("twice")
        for i, spelling in enumerate(SPELLINGS):
            again = _approve(raised, spelling, resume_id=f"again-{i}")
            assert await _refused(service, again) == "already_approved", spelling
        assert terminal(service, "twice") == []
        await send(service, _approve(raised, "bob"))
        assert isinstance(await service.result("twice"), RunCompleted)


async def test_an_approval_systems_key_cannot_speak_for_an_approver_with_her_own_key_by_case() -> None:
    _, public = ed25519_pair()
    settings = Settings(answer_keys=SecretStr("ops=ops-secret"), approver_keys=f"alice={public}")
    async with ServiceHarness(demo.ai, settings=settings) as service:
        raised = await paused(service, "own-key")
        ops = AnswerKey("ops", b"ops-secret")
        for i, spelling in enumerate(SPELLINGS):
            forged = _approve(raised, spelling, signing_key=ops, resume_id=f"forged-{i}")
            assert await _refused(service, forged) in {"key_not_bound", "unsigned"}, spelling
        unsigned = _approve(raised, "ALICE", resume_id="unsigned")
        assert await _refused(service, unsigned) == "unsigned"
        assert terminal(service, "own-key") == []


async def test_a_bound_key_speaks_for_its_names_whatever_their_case() -> None:
    settings = Settings(answer_keys=SecretStr("ops=ops-secret"), answer_key_bindings="ops:bob")
    async with ServiceHarness(demo.ai, settings=settings) as service:
        raised = await paused(service, "bound-case", approvers=["Bob"])
        await send(service, _approve(raised, "BOB", signing_key=AnswerKey("ops", b"ops-secret")))
        assert isinstance(await service.result("bound-case"), RunCompleted)
