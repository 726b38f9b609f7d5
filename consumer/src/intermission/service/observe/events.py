"""What the worker reports as it works: one frozen type per kind of happening.

The worker and the run logic report these to an ``Observer``; metrics, log lines (and anything
else) are built from them, so the code that does the work says once what happened and never
knows who listens. Each carries only what is cheap to know at that point and bounded in
kind: identifiers for log lines, small closed sets (``Literal``) for metric labels.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec
from intermission_schemas import DeadLetterReason, RejectReason

__all__ = [
    "AnswerCollected",
    "AnswerRejected",
    "CallOutcome",
    "ConsumerLag",
    "Dependency",
    "DependencyChanged",
    "InterruptOutcome",
    "InterruptResolved",
    "ModelCalled",
    "Observation",
    "PartitionLag",
    "PauseResumed",
    "Published",
    "RecordDeadLettered",
    "RecordHandled",
    "RecordOutcome",
    "RecordTaken",
    "RunCompletion",
    "RunFailure",
    "RunPaused",
    "RunStarted",
    "StoreCalled",
    "StoreOperation",
    "ToolCalled",
]

Dependency: TypeAlias = Literal["store", "log"]
# done: every effect of the record is durable (a step, a pause, a result, a rejection, or
# nothing because it was a redelivery); abandoned: cancelled (a stop or a rebalance), left
# uncommitted for the next owner.
RecordOutcome: TypeAlias = Literal["done", "dead_letter", "tampered", "abandoned"]
# How one pending interrupt was settled.
InterruptOutcome: TypeAlias = Literal["responded", "restarted", "expired", "expired_default"]
# How a timed call ended: ``unavailable`` is a dependency failure (retried), ``precondition``
# a conditional write that lost (an expected answer), ``interrupted`` a tool that paused,
# ``cancelled`` a call cut off (a stop, a rebalance, a lost claim).
CallOutcome: TypeAlias = Literal[
    "ok", "error", "unavailable", "precondition", "too_large", "interrupted", "cancelled"
]
StoreOperation: TypeAlias = Literal["create", "replace", "get", "list", "list_page", "delete"]


class _Observation(msgspec.Struct, frozen=True, kw_only=True):
    pass


# -- records --------------------------------------------------------------------------------


class RecordTaken(_Observation, frozen=True, kw_only=True):
    """A record was taken from the log and holds one of the worker's slots."""

    topic: str


class RecordHandled(_Observation, frozen=True, kw_only=True):
    """A record left the worker: the full cycle from taking it to its effects being durable."""

    topic: str
    outcome: RecordOutcome
    seconds: float


class RecordDeadLettered(_Observation, frozen=True, kw_only=True):
    topic: str
    partition: int
    offset: int
    key: str
    reason: DeadLetterReason
    detail: str


# -- runs -----------------------------------------------------------------------------------


class RunStarted(_Observation, frozen=True, kw_only=True):
    """A request's first step begins (not for a redelivered request whose outcome is stored)."""

    run_id: str


class RunPaused(_Observation, frozen=True, kw_only=True):
    """A step ended in a new pause: snapshot ``snapshot_version`` holds ``interrupts`` open ones."""

    run_id: str
    snapshot_version: int
    interrupts: int


class AnswerCollected(_Observation, frozen=True, kw_only=True):
    """A partial answer: applied to the pause, which waits for ``outstanding`` more refs."""

    run_id: str
    snapshot_version: int
    resume_id: str
    outstanding: int


class PauseResumed(_Observation, frozen=True, kw_only=True):
    """Every ref of a pause is answered and this worker claimed it: the run continues."""

    run_id: str
    snapshot_version: int
    resume_id: str


class InterruptResolved(_Observation, frozen=True, kw_only=True):
    run_id: str
    snapshot_version: int
    ref: str
    outcome: InterruptOutcome


class AnswerRejected(_Observation, frozen=True, kw_only=True):
    run_id: str
    snapshot_version: int
    resume_id: str
    reason: RejectReason
    detail: str


class RunCompletion(_Observation, frozen=True, kw_only=True):
    run_id: str
    snapshot_version: int  # the step that ended the run (1 for a run that never paused)
    finish_reason: str
    run_seconds: float | None = None  # from the first step's start, across every pause


class RunFailure(_Observation, frozen=True, kw_only=True):
    run_id: str
    snapshot_version: int | None  # None where the failing step is not known (expiry, bad requests)
    code: str
    message: str
    run_seconds: float | None = None  # from the first step's start, where it is known


# -- calls to the model, the tools and the dependencies ---------------------------------------


class ModelCalled(_Observation, frozen=True, kw_only=True):
    seconds: float
    outcome: CallOutcome


class ToolCalled(_Observation, frozen=True, kw_only=True):
    tool: str
    seconds: float
    outcome: CallOutcome


class StoreCalled(_Observation, frozen=True, kw_only=True):
    operation: StoreOperation
    seconds: float
    outcome: CallOutcome


class Published(_Observation, frozen=True, kw_only=True):
    topic: str
    seconds: float
    outcome: CallOutcome


# -- the worker's surroundings ---------------------------------------------------------------


class DependencyChanged(_Observation, frozen=True, kw_only=True):
    dependency: Dependency
    up: bool


class PartitionLag(msgspec.Struct, frozen=True, kw_only=True):
    topic: str
    partition: int
    lag: int  # records on the partition not yet taken by this worker


class ConsumerLag(_Observation, frozen=True, kw_only=True):
    """The lag of every partition this worker holds now (a revoked partition is absent)."""

    partitions: tuple[PartitionLag, ...]


Observation: TypeAlias = (
    RecordTaken
    | RecordHandled
    | RecordDeadLettered
    | RunStarted
    | RunPaused
    | AnswerCollected
    | PauseResumed
    | InterruptResolved
    | AnswerRejected
    | RunCompletion
    | RunFailure
    | ModelCalled
    | ToolCalled
    | StoreCalled
    | Published
    | DependencyChanged
    | ConsumerLag
)
