"""Who may answer what (issue 17, finding 5, and the request's approval rules): an approval
system's key speaks only for whom it is bound to, and never for an approver with a key of her
own; groups count only when a bound key vouches for them; the requester cannot approve; a call
that needs N approvals runs once N distinct approvers agree, and one denial settles it."""

from __future__ import annotations

import pytest
from answer_kit import paused, rejection, send, terminal
from intermission.errors import SettingsError
from intermission.service.demo import app as demo
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_producer import AnswerKey, build_resume
from intermission_schemas import ApprovalRule, InterruptRaised, ResumeRequested, RunCompleted
from pydantic import SecretStr

APPROVE = {"status": "APPROVED"}
OPS = AnswerKey("ops", b"ops-secret")


def _approve(raised: InterruptRaised, who: str, **options: object) -> ResumeRequested:
    ref = raised.interrupts[0].ref
    return build_resume(raised, restart={ref: APPROVE}, answered_by=who, **options)  # type: ignore[arg-type]


async def _refused(service: ServiceHarness, event: ResumeRequested) -> str:
    await send(service, event)
    return (await rejection(service, event.resume_id)).reason


async def test_a_bound_key_speaks_only_for_its_names_and_groups() -> None:
    settings = Settings(
        answer_keys=SecretStr("ops=ops-secret"),
        answer_key_bindings="ops:bob,@finance",
        require_signed_answers=True,
    )
    async with ServiceHarness(demo.ai, settings=settings) as service:
        raised = await paused(service, "bound", approvers=["@finance"])
        assert await _refused(service, _approve(raised, "carol", signing_key=OPS)) == "key_not_bound"
        admin = _approve(raised, "carol", signing_key=OPS, groups=["admins"])
        assert await _refused(service, admin) == "key_not_bound"
        # bob is the key's, but not in finance: the request's rule refuses him.
        assert await _refused(service, _approve(raised, "bob", signing_key=OPS)) == "unauthorized"
        await send(service, _approve(raised, "carol", signing_key=OPS, groups=["finance"]))
        assert isinstance(await service.result("bound"), RunCompleted)


async def test_groups_in_an_unsigned_answer_are_not_trusted() -> None:
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "unsigned-groups", approvers=["@finance"])
        assert await _refused(service, _approve(raised, "carol", groups=["finance"])) == "unauthorized"


async def test_the_requester_cannot_approve_her_own_run() -> None:
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "self", requested_by="alice")
        assert await _refused(service, _approve(raised, "alice")) == "self_approval"
        await send(service, _approve(raised, "bob"))
        assert isinstance(await service.result("self"), RunCompleted)


async def test_two_distinct_approvers_must_agree_before_the_transfer_runs() -> None:
    rule = ApprovalRule(tool="transferMoney", approvers=["alice", "bob", "carol"], required=2)
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "two-of-three", approval_rules=[rule])
        assert raised.interrupts[0].approvals_required == 2
        await send(service, _approve(raised, "alice", resume_id="by-alice"))
        first = await service.interrupt("two-of-three")  # not a rejection: the approvals so far
        assert first.interrupts[0].approved_by == ["alice"]
        assert first.answered == []
        assert (
            await _refused(service, _approve(raised, "alice", resume_id="alice-again")) == "already_approved"
        )
        assert await _refused(service, _approve(raised, "dave")) == "unauthorized"
        differently = build_resume(
            raised, restart={raised.interrupts[0].ref: {"status": "APPROVED", "note": "x"}}, answered_by="bob"
        )
        assert await _refused(service, differently) == "approval_mismatch"
        assert terminal(service, "two-of-three") == []
        await send(service, _approve(raised, "bob"))
        done = await service.result("two-of-three")
        assert isinstance(done, RunCompleted)


async def test_one_denial_settles_a_call_that_needs_several_approvals() -> None:
    rule = ApprovalRule(tool="transferMoney", required=2)
    async with ServiceHarness(demo.ai) as service:
        raised = await paused(service, "denied", approval_rules=[rule])
        ref = raised.interrupts[0].ref
        denial = {"status": "REJECTED", "message": "not approved"}
        await send(service, build_resume(raised, respond={ref: denial}, answered_by="alice"))
        assert isinstance(await service.result("denied"), RunCompleted)


@pytest.mark.parametrize("bindings", ["ops", "ops:", "ops:@", "nobody:alice"])
def test_key_bindings_are_checked_at_start(bindings: str) -> None:
    settings = Settings(answer_keys=SecretStr("ops=ops-secret"), answer_key_bindings=bindings)
    with pytest.raises(SettingsError, match="INTERMISSION_ANSWER_KEY_BINDINGS"):
        settings.answer_key_set()


def test_key_bindings_parse_names_and_groups() -> None:
    keys = Settings(
        answer_keys=SecretStr("ops=a,slack=b"), answer_key_bindings=" ops: alice, @finance ; slack:@support"
    ).answer_key_set()
    assert keys is not None
    assert keys.bindings == {"ops": frozenset({"alice", "@finance"}), "slack": frozenset({"@support"})}
