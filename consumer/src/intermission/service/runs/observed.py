"""Observations of the run logic that take more than a line to build."""

from __future__ import annotations

from intermission_schemas import RunCompleted, RunFailed, Snapshot

from ..observe.events import InterruptOutcome, InterruptResolved, PauseResumed, RunCompletion, RunFailure

__all__ = ["EXPIRY_RESUME_ID", "ended", "resumed"]

EXPIRY_RESUME_ID = "expiry"  # the resume id an expiry policy's default answers carry


def ended(
    event: RunCompleted | RunFailed, version: int | None, *, run_seconds: float | None = None
) -> RunCompletion | RunFailure:
    """A run's end, as published: ``version`` is the step that ended it, and ``run_seconds``
    how long since the run's first step began, where known."""
    if isinstance(event, RunCompleted):
        return RunCompletion(
            run_id=event.run_id,
            snapshot_version=version or 1,
            finish_reason=event.finish_reason,
            run_seconds=run_seconds,
        )
    return RunFailure(
        run_id=event.run_id,
        snapshot_version=version,
        code=event.code,
        message=event.message,
        run_seconds=run_seconds,
    )


def resumed(claimed: Snapshot, resume_id: str) -> list[PauseResumed | InterruptResolved]:
    """A pause claimed with every ref answered: the resume, and how each interrupt was settled."""
    version = claimed.snapshot_version
    found: list[PauseResumed | InterruptResolved] = [
        PauseResumed(run_id=claimed.run_id, snapshot_version=version, resume_id=resume_id)
    ]
    for ref, answer in claimed.answers.items():
        outcome: InterruptOutcome
        if answer.resume_id == EXPIRY_RESUME_ID:
            outcome = "expired_default"
        else:
            outcome = "responded" if answer.respond is not None else "restarted"
        found.append(
            InterruptResolved(run_id=claimed.run_id, snapshot_version=version, ref=ref, outcome=outcome)
        )
    return found
