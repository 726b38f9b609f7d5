"""Which subscriptions an event goes to.

An interrupt matches a subscription whose tools include one of its pending calls' tools (or
that names none), whose tags the run carries, and whose approvers include one the run names
(or that names none). Outcomes go only to subscriptions that ask for
them (``outcomes: true``) and match on tags alone: a result does not say which tools the run
paused in. A ResumeRejected carries no tags, so only a subscription with no tag filter gets it.
"""

from __future__ import annotations

from typing import assert_never

from intermission_schemas import InterruptRaised, ResumeRejected, RunCompleted, RunFailed

from .events import HookEvent
from .subscriptions import Subscription

__all__ = ["matches"]


def matches(subscription: Subscription, event: HookEvent) -> bool:
    wanted = subscription.filter
    match event:
        case InterruptRaised():
            tools = {pending.tool for pending in event.interrupts}
            return (
                (not wanted.tools or bool(tools & set(wanted.tools)))
                and _tagged(wanted.tags, event.tags)
                and (not wanted.approvers or bool(set(wanted.approvers) & set(event.approvers)))
            )
        case RunCompleted() | RunFailed():
            return subscription.outcomes and _tagged(wanted.tags, event.tags)
        case ResumeRejected():
            return subscription.outcomes and not wanted.tags
        case _:
            assert_never(event)


def _tagged(wanted: dict[str, str], tags: dict[str, str]) -> bool:
    return all(tags.get(name) == value for name, value in wanted.items())
