"""Which subscriptions an event goes to."""

from __future__ import annotations

import msgspec
from events_kit import completed, raised, subscription
from intermission.webhooks import matches
from intermission_schemas import ResumeRejected


def test_an_empty_filter_takes_every_interrupt_and_no_outcome() -> None:
    everything = subscription()
    assert matches(everything, raised(tool="askQuestion", tags={"team": "x"}))
    assert not matches(everything, completed())


def test_tools_and_tags_must_all_match() -> None:
    payments = subscription(tools=("transferMoney",), tags={"team": "payments"})
    assert matches(payments, raised(tool="transferMoney", tags={"team": "payments", "env": "prod"}))
    assert not matches(payments, raised(tool="askQuestion", tags={"team": "payments"}))
    assert not matches(payments, raised(tool="transferMoney", tags={"team": "support"}))
    assert not matches(payments, raised(tool="transferMoney"))


def test_approvers_match_those_the_run_names() -> None:
    finance = subscription(approvers=("@finance", "bob"))
    assert matches(finance, msgspec.structs.replace(raised(), approvers=["alice", "@finance"]))
    assert not matches(finance, msgspec.structs.replace(raised(), approvers=["alice"]))
    assert not matches(finance, raised())  # named nobody: for subscriptions without approvers
    assert matches(subscription(), msgspec.structs.replace(raised(), approvers=["alice"]))


def test_outcomes_only_when_subscribed_and_on_tags() -> None:
    outcomes = subscription(outcomes=True, tags={"team": "payments"})
    assert matches(outcomes, completed(tags={"team": "payments"}))
    assert not matches(outcomes, completed(tags={"team": "support"}))
    rejected = ResumeRejected(run_id="run-1", resume_id="r1", reason="stale", detail="")
    assert not matches(outcomes, rejected)  # it carries no tags to match
    assert matches(subscription(outcomes=True), rejected)
