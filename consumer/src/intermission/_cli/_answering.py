"""Deciding the answers to one InterruptRaised: by asking a person, or automatically.

No Kafka and no asyncio here, so the dialogue can be tested by feeding it lines. The answers
are checked with the producer SDK's `build_resume`, the same check `IntermissionClient.resume`
makes before it publishes, so a wrong answer is caught while the person is still at the prompt.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from intermission_producer import AnswerError, build_resume
from intermission_schemas import InterruptRaised, PendingInterrupt
from rich.text import Text

from ._common import as_json, console, parse_answer

Ask = Callable[[str], str]  # shows a prompt, returns the line the person typed


class Verdict(StrEnum):
    approve = "approve"
    reject = "reject"


# What a restarted tool finds in ctx.resumed: the convention of the seed's transferMoney.
_RESUMED = {Verdict.approve: {"status": "APPROVED"}, Verdict.reject: {"status": "REJECTED"}}


def resumed_for(verdict: Verdict, reason: str | None = None) -> dict[str, Any]:
    """What the restarted tool finds in ctx.resumed for ``verdict`` (and a denial's reason)."""
    return {**_RESUMED[verdict], **({"reason": reason} if reason else {})}


_VERDICT_WORDS = {
    "a": Verdict.approve,
    "approve": Verdict.approve,
    "r": Verdict.reject,
    "reject": Verdict.reject,
}
_SKIP_WORDS = {"s", "skip"}


@dataclass
class Answers:
    """Answers for some of the pending interrupts; the rest stay pending for someone else."""

    respond: dict[str, Any] = field(default_factory=dict)
    restart: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.respond) + len(self.restart)

    def describe(self) -> str:
        parts = [f"{ref} → {as_json(value)}" for ref, value in {**self.restart, **self.respond}.items()]
        return ", ".join(parts)


@dataclass(frozen=True)
class Policy:
    """How to answer: ``auto`` answers without asking; ``auto_answer`` is the output it gives to
    interrupts that need one (those that cannot be restarted), as JSON or plain text."""

    answered_by: str
    auto: Verdict | None = None
    auto_answer: str | None = None


def decide(raised: InterruptRaised, pending: list[PendingInterrupt], policy: Policy, ask: Ask) -> Answers:
    """The answers to ``pending`` (a subset of ``raised``'s interrupts); each one is valid."""
    answers = Answers()
    for interrupt in pending:
        if interrupt.restartable:
            verdict = policy.auto or _ask_verdict(interrupt, ask)
            if verdict is not None:
                answers.restart[interrupt.ref] = _RESUMED[verdict]
            continue
        output = (
            _auto_output(raised, interrupt, policy)
            if policy.auto
            else _ask_output(raised, interrupt, policy, ask)
        )
        if output is not _SKIPPED:
            answers.respond[interrupt.ref] = output
    return answers


_SKIPPED: Any = object()


def _ask_verdict(interrupt: PendingInterrupt, ask: Ask) -> Verdict | None:
    while True:
        word = ask(f"{interrupt.tool} [{interrupt.ref}]: approve, reject or skip?").strip().lower()
        if word in _SKIP_WORDS:
            return None
        if word in _VERDICT_WORDS:
            return _VERDICT_WORDS[word]
        console.print("type approve (a), reject (r) or skip (s)", style="yellow")


def _ask_output(raised: InterruptRaised, interrupt: PendingInterrupt, policy: Policy, ask: Ask) -> Any:
    _explain(interrupt)
    while True:
        line = ask(f"{interrupt.tool} [{interrupt.ref}]: answer (JSON or text, empty to skip)")
        if not line.strip():
            return _SKIPPED
        output = parse_answer(line)
        problem = problem_with(raised, interrupt, output, policy.answered_by)
        if problem is None:
            return output
        console.print(Text(f"not sent: {problem}; try again", style="red"), soft_wrap=True)


def _auto_output(raised: InterruptRaised, interrupt: PendingInterrupt, policy: Policy) -> Any:
    if policy.auto_answer is None:
        _note(f"left {interrupt.ref} ({interrupt.tool}) pending: it needs an answer value; pass --answer")
        return _SKIPPED
    output = parse_answer(policy.auto_answer)
    problem = problem_with(raised, interrupt, output, policy.answered_by)
    if problem is not None:
        _note(f"left {interrupt.ref} ({interrupt.tool}) pending: --answer {problem}")
        return _SKIPPED
    return output


def problem_with(
    raised: InterruptRaised, interrupt: PendingInterrupt, output: Any, answered_by: str
) -> str | None:
    """Why the service would reject ``output`` for ``interrupt``, naming the field; None if fine."""
    try:
        build_resume(raised, respond={interrupt.ref: output}, answered_by=answered_by)
    except AnswerError as exc:
        where = f"field {exc.field!r}" if exc.field else "the answer"
        return f"{where} is invalid: {exc.detail}"
    return None


def _explain(interrupt: PendingInterrupt) -> None:
    if interrupt.description:
        console.print(Text(f"{interrupt.tool}: {interrupt.description}"), soft_wrap=True)
    if interrupt.output_schema is not None:
        schema = json.dumps(interrupt.output_schema, ensure_ascii=False)
        console.print(Text(f"the answer must match {schema}", style="dim"), soft_wrap=True)


def _note(message: str) -> None:
    console.print(Text(message, style="yellow"), soft_wrap=True)
