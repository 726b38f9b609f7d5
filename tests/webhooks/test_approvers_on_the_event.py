"""InterruptRaised names who may answer (the request's approvers and its approval rules' for
the pending tools), so a webhook subscription can route a pause by approver."""

from __future__ import annotations

import msgspec
from events_kit import subscription
from intermission.service.demo import app as demo
from intermission.testing import ServiceHarness
from intermission.webhooks import matches
from intermission_schemas import ApprovalRule
from real_kit import transfer


async def test_a_pause_lists_the_approvers_of_its_request_and_rules() -> None:
    request = msgspec.structs.replace(
        transfer("approvers-1"),
        approvers=["alice", "@finance"],
        approval_rules=[
            ApprovalRule(tool="transferMoney", approvers=["bob", "alice"], required=1),
            ApprovalRule(tool="askQuestion", approvers=["carol"]),  # not paused on: not listed
        ],
    )
    async with ServiceHarness(demo.ai) as service:
        await service.client.submit(request)
        raised = await service.interrupt("approvers-1")
    assert raised.approvers == ["alice", "@finance", "bob"]
    assert matches(subscription(approvers=("bob",)), raised)
    assert not matches(subscription(approvers=("carol",)), raised)
