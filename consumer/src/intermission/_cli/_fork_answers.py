"""The answers `intermission runs fork` gives the fork's pause, in the engine's kinds.

--approve REF restarts the tool (``ctx.resumed = {"status": "APPROVED"}``), with --input JSON
(or REF=JSON when several are approved) as a replaced input; --deny REF restarts it with
``{"status": "REJECTED"}`` (and --reason); --respond REF=VALUE gives the tool's output instead
of running it. The approvals command uses the same ``ctx.resumed`` values (the seed's
transferMoney convention). Checking against the schemas is the producer's, in fork_run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._answering import Verdict, resumed_for
from ._common import EXIT_USAGE, fail, parse_answer


@dataclass
class ForkAnswers:
    respond: dict[str, Any] = field(default_factory=dict)
    restart: dict[str, Any] = field(default_factory=dict)
    replace_input: dict[str, Any] = field(default_factory=dict)


def fork_answers(
    approve: list[str], inputs: list[str], deny: list[str], reason: str | None, respond: list[str]
) -> ForkAnswers:
    """The answers the flags give; a flag combination that cannot mean anything exits 2."""
    answers = ForkAnswers()
    for ref in approve:
        answers.restart[ref] = resumed_for(Verdict.approve)
    for ref in deny:
        if ref in answers.restart:
            fail(f"{ref} is both approved and denied: give one", EXIT_USAGE)
        answers.restart[ref] = resumed_for(Verdict.reject, reason)
    if reason is not None and not deny:
        fail("--reason goes with --deny REF", EXIT_USAGE)
    for given in respond:
        ref, sep, value = given.partition("=")
        if not sep or not ref:
            fail(f"--respond is REF=VALUE, not {given!r}", EXIT_USAGE)
        if ref in answers.restart:
            fail(f"{ref} is both restarted (--approve/--deny) and responded to: give one", EXIT_USAGE)
        answers.respond[ref] = parse_answer(value)
    for given in inputs:
        answers.replace_input.update(_replaced(given, approve))
    return answers


def _replaced(given: str, approve: list[str]) -> dict[str, Any]:
    ref, sep, value = given.partition("=")
    if sep and ref in approve:
        return {ref: parse_answer(value)}
    if len(approve) == 1:
        return {approve[0]: parse_answer(given)}
    if not approve:
        fail("--input goes with --approve REF: the approved tool runs with it", EXIT_USAGE)
    fail(f"with several --approve, --input is REF=JSON naming one of {', '.join(approve)}", EXIT_USAGE)
