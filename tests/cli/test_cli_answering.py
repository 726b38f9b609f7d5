"""How `intermission approvals` decides answers: the prompts, the validation, --auto. No Kafka."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from intermission._cli._answering import Ask, Policy, Verdict, decide
from intermission_schemas import InterruptRaised, PendingInterrupt, SnapshotRef

_TRANSFER = PendingInterrupt(
    ref="transferMoney-1-0",
    tool="transferMoney",
    input={"toAccountId": "ABC123", "amount": 100000},
    restartable=True,
)
_BOOKING = PendingInterrupt(
    ref="book-1-1",
    tool="book",
    description="pick a day and a party size",
    output_schema={
        "type": "object",
        "properties": {"day": {"type": "string"}, "people": {"type": "integer"}},
        "required": ["day", "people"],
    },
)


def _raised(*interrupts: PendingInterrupt) -> InterruptRaised:
    return InterruptRaised(
        run_id="r1",
        snapshot=SnapshotRef(key="runs/r1/snapshots/00000001", version=1, sha256="0" * 64),
        interrupts=list(interrupts),
        created_at=datetime.now(UTC),
    )


class Typist:
    """Types the given lines at the prompts, in order, and remembers the prompts it saw."""

    def __init__(self, *lines: str) -> None:
        self._lines: Iterator[str] = iter(lines)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return next(self._lines)


def _never_asked(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} in --auto mode")


def _decide(*interrupts: PendingInterrupt, policy: Policy, ask: Ask) -> Any:
    return decide(_raised(*interrupts), list(interrupts), policy, ask)


def test_a_restartable_interrupt_is_asked_until_the_word_is_understood(
    capsys: pytest.CaptureFixture[str],
) -> None:
    typist = Typist("maybe", "r")

    answers = _decide(_TRANSFER, policy=Policy(answered_by="alice"), ask=typist)

    assert answers.restart == {"transferMoney-1-0": {"status": "REJECTED"}}
    assert answers.respond == {}
    assert len(typist.prompts) == 2
    assert "approve (a), reject (r) or skip (s)" in capsys.readouterr().out


def test_skip_leaves_the_interrupt_pending() -> None:
    answers = _decide(_TRANSFER, policy=Policy(answered_by="alice"), ask=Typist("skip"))

    assert len(answers) == 0


def test_an_invalid_answer_names_the_field_and_is_asked_again(capsys: pytest.CaptureFixture[str]) -> None:
    typist = Typist(
        '{"day": "Sunday"}', '{"day": "Sunday", "people": "four"}', '{"day": "Sunday", "people": 4}'
    )

    answers = _decide(_BOOKING, policy=Policy(answered_by="alice"), ask=typist)

    assert answers.respond == {"book-1-1": {"day": "Sunday", "people": 4}}
    out = capsys.readouterr().out
    assert "field 'people' is invalid" in out  # missing, then of the wrong type
    assert out.count("not sent:") == 2
    assert "pick a day and a party size" in out  # the description is shown before asking


def test_a_plain_word_is_a_string_answer() -> None:
    question = PendingInterrupt(ref="ask-1-0", tool="askQuestion", output_schema={"type": "string"})

    answers = _decide(question, policy=Policy(answered_by="alice"), ask=Typist("Saturday"))

    assert answers.respond == {"ask-1-0": "Saturday"}


def test_auto_answers_restartable_interrupts_without_asking() -> None:
    policy = Policy(answered_by="bot", auto=Verdict.approve)

    answers = _decide(_TRANSFER, policy=policy, ask=_never_asked)

    assert answers.restart == {"transferMoney-1-0": {"status": "APPROVED"}}


def test_auto_without_an_answer_value_leaves_answer_interrupts_pending(
    capsys: pytest.CaptureFixture[str],
) -> None:
    policy = Policy(answered_by="bot", auto=Verdict.approve)

    answers = _decide(_TRANSFER, _BOOKING, policy=policy, ask=_never_asked)

    assert set(answers.restart) == {"transferMoney-1-0"}
    assert answers.respond == {}
    assert "left book-1-1 (book) pending" in capsys.readouterr().out


def test_auto_with_an_invalid_answer_value_leaves_it_pending(capsys: pytest.CaptureFixture[str]) -> None:
    policy = Policy(answered_by="bot", auto=Verdict.reject, auto_answer='{"day": "Sunday"}')

    answers = _decide(_BOOKING, policy=policy, ask=_never_asked)

    assert len(answers) == 0
    assert "field 'people' is invalid" in capsys.readouterr().out


def test_auto_with_a_valid_answer_value_sends_it() -> None:
    policy = Policy(answered_by="bot", auto=Verdict.approve, auto_answer='{"day": "Sunday", "people": 2}')

    answers = _decide(_BOOKING, policy=policy, ask=_never_asked)

    assert answers.respond == {"book-1-1": {"day": "Sunday", "people": 2}}
