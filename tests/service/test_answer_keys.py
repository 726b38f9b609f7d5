"""AnswerKeys.verify on its own: which groups a signature vouches for, and the refusals of keys
that speak beyond their binding. Pure: no worker, no log, no store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from answer_kit import ed25519_pair
from intermission.service.runs.signatures import AnswerKeys
from intermission_producer import AnswerKey, build_resume
from intermission_schemas import (
    AnswerProblem,
    InterruptRaised,
    PendingInterrupt,
    ResumeRequested,
    SnapshotRef,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PENDING = PendingInterrupt(ref="t1", tool="transferMoney", input={"amount": 1}, restartable=True)
RAISED = InterruptRaised(
    run_id="run-1",
    snapshot=SnapshotRef(key="runs/run-1/snapshots/00000001", version=1, sha256="0" * 64),
    interrupts=[PENDING],
    created_at=NOW,
)
OPS = AnswerKey("ops", b"ops-secret")


def _answer(who: str, key: AnswerKey | None = OPS, groups: tuple[str, ...] = ()) -> ResumeRequested:
    return build_resume(
        RAISED,
        restart={"t1": {"status": "APPROVED"}},
        answered_by=who,
        signing_key=key,
        now=NOW,
        groups=groups,
    )


def _verify(keys: AnswerKeys, event: ResumeRequested) -> frozenset[str]:
    return keys.verify(event, [PENDING], NOW + timedelta(seconds=1))


def _reason(keys: AnswerKeys, event: ResumeRequested) -> str:
    with pytest.raises(AnswerProblem) as caught:
        _verify(keys, event)
    return caught.value.reason


def test_a_bound_key_vouches_for_its_groups_only() -> None:
    keys = AnswerKeys({"ops": b"ops-secret"}, bindings={"ops": frozenset({"bob", "@finance"})})
    assert _verify(keys, _answer("carol", groups=("finance",))) == {"finance"}
    assert _verify(keys, _answer("bob")) == frozenset()
    assert _reason(keys, _answer("carol")) == "key_not_bound"
    assert _reason(keys, _answer("carol", groups=("finance", "admins"))) == "key_not_bound"


def test_an_unbound_key_speaks_for_anyone_without_a_key_of_her_own() -> None:
    _, public = ed25519_pair()
    keys = AnswerKeys({"ops": b"ops-secret"}, approver_keys={"alice": bytes.fromhex(public)})
    assert _verify(keys, _answer("carol", groups=("admins",))) == {"admins"}
    assert _reason(keys, _answer("alice")) == "key_not_bound"
    assert _reason(keys, _answer("alice", key=None)) == "unsigned"


def test_groups_are_part_of_what_is_signed() -> None:
    keys = AnswerKeys({"ops": b"ops-secret"}, bindings={"ops": frozenset({"@finance", "@admins"})})
    signed = _answer("carol", groups=("finance",))
    assert _reason(keys, msgspec.structs.replace(signed, answered_groups=["admins"])) == "bad_signature"


def test_an_approvers_own_key_cannot_vouch_for_her_groups() -> None:
    seed, public = ed25519_pair()
    keys = AnswerKeys({}, approver_keys={"alice": bytes.fromhex(public)})
    alice = AnswerKey("alice", seed, algorithm="ed25519")
    assert _verify(keys, _answer("alice", key=alice)) == frozenset()
    assert _reason(keys, _answer("alice", key=alice, groups=("finance",))) == "key_not_bound"


@pytest.mark.parametrize("value", ["é" * 64, "zz", "", "\x00" * 64])
def test_a_junk_signature_value_is_a_bad_signature(value: str) -> None:
    keys = AnswerKeys({"ops": b"ops-secret"})
    signed = _answer("carol")
    assert signed.signature is not None
    junk = msgspec.structs.replace(signed, signature=msgspec.structs.replace(signed.signature, value=value))
    assert _reason(keys, junk) == "bad_signature"
