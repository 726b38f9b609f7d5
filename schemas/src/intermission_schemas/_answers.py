"""The one check of answers against a pause, shared by the worker and the producer SDK.

The worker is the authority; the producer SDK runs the same rules before it sends, so a mistake
is an exception at the call site instead of a round trip and a ResumeRejected. Both speak the
reasons of ``ResumeRejected.reason``. Only how a value is checked against its schema differs
(the worker uses the tool's own schema, the SDK the published JSON Schema), so that part is
passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from ._events import PendingInterrupt, RejectReason, RespondAnswer, RestartAnswer

__all__ = ["AnswerProblem", "ValueCheck", "check_answers"]

ValueCheck = Callable[[PendingInterrupt, Any], "tuple[str, str] | None"]
"""``(dotted field, message)`` when the value does not fit the interrupt, else None."""


class AnswerProblem(Exception):
    """Why a set of answers does not fit the pause it answers."""

    def __init__(
        self, reason: RejectReason, detail: str, refs: Sequence[str] = (), field: str | None = None
    ) -> None:
        super().__init__(detail)
        self.reason: RejectReason = reason
        self.detail = detail
        self.refs = list(refs)
        self.field = field


def check_answers(
    pending: Sequence[PendingInterrupt],
    answered: Collection[str],
    respond: Sequence[RespondAnswer],
    restart: Sequence[RestartAnswer],
    *,
    output_problem: ValueCheck,
    input_problem: ValueCheck,
) -> None:
    """Raise AnswerProblem for the first rule the answers break, in this order:
    unknown_ref, duplicate (answered before, or twice here), invalid_output, not_restartable,
    invalid_input."""
    by_ref = {interrupt.ref: interrupt for interrupt in pending}
    refs = [a.ref for a in respond] + [a.ref for a in restart]
    unknown = [ref for ref in refs if ref not in by_ref]
    if unknown:
        known = ", ".join(sorted(by_ref)) or "none"
        raise AnswerProblem(
            "unknown_ref", f"no pending interrupt has ref(s) {unknown} (pending: {known})", unknown
        )
    repeated = sorted({ref for ref in refs if ref in answered or refs.count(ref) > 1})
    if repeated:
        raise AnswerProblem("duplicate", f"ref(s) {repeated} are already answered", repeated)
    for answer in respond:
        problem = output_problem(by_ref[answer.ref], answer.output)
        if problem is not None:
            raise AnswerProblem("invalid_output", problem[1], [answer.ref], problem[0])
    for restart_answer in restart:
        interrupt = by_ref[restart_answer.ref]
        if not interrupt.restartable:
            raise AnswerProblem(
                "not_restartable", f"{interrupt.tool!r} can only be answered", [restart_answer.ref]
            )
        if restart_answer.replaces_input:
            problem = input_problem(interrupt, restart_answer.replace_input)
            if problem is not None:
                raise AnswerProblem("invalid_input", problem[1], [restart_answer.ref], problem[0])
