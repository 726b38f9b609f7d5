"""Who may answer which paused call, and how many must approve it: the request's rules.

A request names who may answer (``approvers``: names and ``@groups``), per tool if it likes
(``approval_rules``: the first rule naming the tool, else the one for ``"*"``), how many distinct
approvers must approve a call before it runs (``required``), and who asked for the run
(``requested_by``), who may never answer it. An answerer's groups count only when a verified
signature vouches for them (``Answerer.groups`` is empty otherwise): never an unsigned field.

Refusals, each its own ResumeRejected reason:

    self_approval      the answerer asked for the run
    unauthorized       the answerer is none of the call's approvers (by name or trusted group)
    already_approved   the answerer approved this call before (approvals must be distinct)
    approval_mismatch  an approval of a call that other approvers approved differently
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import msgspec
from intermission_schemas import AnswerProblem, ApprovalRule, GenerateRequest, RestartAnswer, Snapshot

from .names import person, persons

__all__ = ["Answerer", "approvers_for", "authorize", "required_approvals", "rule_for", "same_approval"]


@dataclass(frozen=True)
class Answerer:
    name: str
    groups: frozenset[str] = frozenset()  # trusted groups only: from a verified signature


def rule_for(request: GenerateRequest, tool: str) -> ApprovalRule | None:
    named = next((rule for rule in request.approval_rules if rule.tool == tool), None)
    return named or next((rule for rule in request.approval_rules if rule.tool == "*"), None)


def approvers_for(request: GenerateRequest, tool: str) -> list[str]:
    """Who may answer a ``tool`` call (names and @groups); empty: anyone."""
    rule = rule_for(request, tool)
    return rule.approvers if rule is not None and rule.approvers else request.approvers


def required_approvals(request: GenerateRequest, tool: str) -> int:
    rule = rule_for(request, tool)
    return rule.required if rule is not None else 1


def one_answer_settles(snapshot: Snapshot) -> bool:
    """One question that one answer settles (no approval quorum): no answer to it is ever
    partial, so the answer that settles it creates the pause's claim (`Snapshots.claim`) instead
    of rewriting the pause."""
    interrupts = snapshot.paused.interrupts
    return len(interrupts) == 1 and required_approvals(snapshot.request, interrupts[0].tool_request.name) == 1


def authorize(request: GenerateRequest, tool: str, ref: str, answerer: Answerer) -> None:
    """AnswerProblem unless ``answerer`` may answer the call ``ref`` of ``tool``."""
    if request.requested_by and person(answerer.name) == person(request.requested_by):
        raise AnswerProblem(
            "self_approval", f"{answerer.name!r} asked for this run and may not answer it", [ref]
        )
    allowed = approvers_for(request, tool)
    if allowed and not _among(answerer, allowed):
        raise AnswerProblem("unauthorized", f"{answerer.name!r} may not answer {tool!r} calls", [ref])


def _among(answerer: Answerer, allowed: Collection[str]) -> bool:
    names = persons(entry for entry in allowed if not entry.startswith("@"))
    groups = {entry[1:] for entry in allowed if entry.startswith("@")}
    return person(answerer.name) in names or bool(groups & answerer.groups)


def same_approval(a: RestartAnswer, b: RestartAnswer) -> bool:
    """Two approvals of one call agree when they would run it the same way."""
    return _canonical.encode([a.resumed, a.replaces_input, a.replace_input]) == _canonical.encode(
        [b.resumed, b.replaces_input, b.replace_input]
    )


_canonical = msgspec.json.Encoder(order="sorted")
