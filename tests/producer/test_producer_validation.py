"""Local checks of answers against the InterruptRaised they answer (no broker needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from intermission_producer import (
    AnswerError,
    ClientUsageError,
    InterruptRaised,
    PendingInterrupt,
    RespondAnswer,
    RestartAnswer,
    build_resume,
)
from intermission_schemas import SnapshotRef, decode_resume, encode

APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean"},
        "limits": {
            "type": "object",
            "properties": {"amount": {"type": "number", "maximum": 1000}},
            "required": ["amount"],
        },
        "notes": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["approved"],
}
TRANSFER_INPUT: dict[str, Any] = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "amount": {"type": "number", "exclusiveMinimum": 0}},
    "required": ["to", "amount"],
}


def raised(*, answered: list[str] | None = None) -> InterruptRaised:
    return InterruptRaised(
        run_id="run-1",
        snapshot=SnapshotRef(key="runs/run-1/snapshots/00000003", version=3, sha256="0" * 64),
        interrupts=[
            PendingInterrupt(ref="approve", tool="approve", output_schema=APPROVAL_SCHEMA),
            PendingInterrupt(
                ref="transfer",
                tool="transfer_money",
                input={"to": "bob", "amount": 5},
                input_schema=TRANSFER_INPUT,
                restartable=True,
            ),
            PendingInterrupt(ref="free", tool="ask"),  # no schema: anything goes
        ],
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        answered=answered or [],
    )


def test_respond_builds_the_event_with_snapshot_version_and_approver() -> None:
    event = build_resume(
        raised(),
        respond={"approve": {"approved": True}},
        answered_by="alice",
        resume_id="r-1",
        metadata={"via": "ui"},
    )

    assert event.run_id == "run-1"
    assert event.resume_id == "r-1"
    assert event.snapshot_version == 3
    assert event.answered_by == "alice"
    assert event.respond == [RespondAnswer(ref="approve", output={"approved": True}, metadata={"via": "ui"})]
    assert event.restart == []
    assert decode_resume(encode(event)) == event  # what is returned is what travels


def test_resume_id_defaults_to_a_fresh_uuid_hex() -> None:
    first = build_resume(raised(), respond={"free": 1}, answered_by="alice")
    second = build_resume(raised(), respond={"free": 1}, answered_by="alice")

    assert len(first.resume_id) == 32
    int(first.resume_id, 16)
    assert first.resume_id != second.resume_id


def test_partial_answers_are_allowed() -> None:
    event = build_resume(raised(answered=["approve"]), respond={"free": "ok"}, answered_by="bob")

    assert [a.ref for a in event.respond] == ["free"]


def test_unknown_ref_is_refused() -> None:
    with pytest.raises(AnswerError) as info:
        build_resume(raised(), respond={"nope": 1}, answered_by="alice")

    assert info.value.reason == "unknown_ref"
    assert info.value.ref == "nope"


def test_already_answered_ref_is_a_duplicate() -> None:
    with pytest.raises(AnswerError) as info:
        build_resume(raised(answered=["approve"]), respond={"approve": {"approved": True}}, answered_by="a")

    assert (info.value.reason, info.value.ref) == ("duplicate", "approve")


def test_same_ref_in_respond_and_restart_is_a_duplicate() -> None:
    with pytest.raises(AnswerError) as info:
        build_resume(raised(), respond={"transfer": 1}, restart={"transfer": True}, answered_by="a")

    assert (info.value.reason, info.value.ref) == ("duplicate", "transfer")


@pytest.mark.parametrize(
    ("output", "field"),
    [
        ({"approved": "yes"}, "approved"),
        ({}, "approved"),  # a missing required property is named, not the object holding it
        ({"approved": True, "limits": {"amount": 5000}}, "limits.amount"),
        ({"approved": True, "limits": {}}, "limits.amount"),
        ({"approved": True, "notes": ["ok", 7]}, "notes.1"),
        ("approved", ""),  # the value as a whole
    ],
)
def test_invalid_output_names_the_field(output: Any, field: str) -> None:
    with pytest.raises(AnswerError) as info:
        build_resume(raised(), respond={"approve": output}, answered_by="alice")

    assert info.value.reason == "invalid_output"
    assert info.value.ref == "approve"
    assert info.value.field == field


def test_output_is_validated_in_its_wire_form() -> None:
    # A tuple is not a JSON Schema "array" to jsonschema, but it travels as one.
    event = build_resume(
        raised(), respond={"approve": {"approved": True, "notes": ("a", "b")}}, answered_by="alice"
    )

    assert event.respond[0].output == {"approved": True, "notes": ["a", "b"]}


def test_restart_of_a_non_restartable_interrupt_is_refused() -> None:
    with pytest.raises(AnswerError) as info:
        build_resume(raised(), restart={"approve": True}, answered_by="alice")

    assert (info.value.reason, info.value.ref) == ("not_restartable", "approve")


def test_restart_with_valid_replacement_input() -> None:
    event = build_resume(
        raised(),
        restart={"transfer": {"approvedBy": "alice"}},
        replace_input={"transfer": {"to": "bob", "amount": 3}},
        answered_by="alice",
    )

    assert event.restart == [
        RestartAnswer(
            ref="transfer",
            resumed={"approvedBy": "alice"},
            replace_input={"to": "bob", "amount": 3},
            replaces_input=True,
        )
    ]


def test_restart_without_replacement_keeps_the_input() -> None:
    event = build_resume(raised(), restart={"transfer": True}, answered_by="alice")

    assert event.restart == [RestartAnswer(ref="transfer", resumed=True)]
    assert event.restart[0].replaces_input is False


def test_invalid_replacement_input_names_the_field() -> None:
    with pytest.raises(AnswerError) as info:
        build_resume(
            raised(),
            restart={"transfer": True},
            replace_input={"transfer": {"to": "bob", "amount": -1}},
            answered_by="alice",
        )

    assert (info.value.reason, info.value.ref, info.value.field) == ("invalid_input", "transfer", "amount")


def test_respond_and_restart_together() -> None:
    event = build_resume(
        raised(), respond={"approve": {"approved": False}}, restart={"transfer": None}, answered_by="carol"
    )

    assert [a.ref for a in event.respond] == ["approve"]
    assert [a.ref for a in event.restart] == ["transfer"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"respond": {}, "restart": {}, "answered_by": "alice"},  # nothing to send
        {"respond": {"free": 1}, "answered_by": ""},  # no audit trail
        {"respond": {"free": 1}, "answered_by": "alice", "resume_id": ""},
        {"restart": {"transfer": True}, "replace_input": {"approve": {}}, "answered_by": "alice"},
        {"respond": {"free": object()}, "answered_by": "alice"},  # not JSON
    ],
)
def test_usage_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ClientUsageError):
        build_resume(raised(), **kwargs)


def test_invalid_published_schema_does_not_block_answers(caplog: pytest.LogCaptureFixture) -> None:
    broken = InterruptRaised(
        run_id="run-2",
        snapshot=SnapshotRef(key="k", version=1, sha256="0" * 64),
        interrupts=[PendingInterrupt(ref="a", tool="t", output_schema={"type": 12})],
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )

    event = build_resume(broken, respond={"a": "anything"}, answered_by="alice")

    assert event.respond[0].output == "anything"
    assert "published schema is invalid" in caplog.text


def test_validators_are_compiled_once_per_schema() -> None:
    from intermission_producer import _validation

    _validation._compiled.cache_clear()
    reordered = dict(reversed(list(APPROVAL_SCHEMA.items())))  # same schema, other key order
    for schema in (APPROVAL_SCHEMA, reordered, APPROVAL_SCHEMA):
        assert _validation.schema_problem(schema, {"approved": True}) is None

    info = _validation._compiled.cache_info()
    assert (info.misses, info.hits) == (1, 2)
