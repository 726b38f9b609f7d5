"""One log line per thing an operator follows: a request, a pause, a partial answer, a resume,
a rejection, a completion, a failure, a dead letter.

Each line is an event name and its fields in ``key=value`` form, and the fields ride on the
record as ``fields`` too, so the JSON formatter (``wiring.logs``) writes them as keys of their
own: ``run_id``, ``snapshot_version`` and ``resume_id`` wherever they are known. Timings and
other high-rate observations are left to the metrics.
"""

from __future__ import annotations

import logging
from typing import assert_never

from .events import (
    AnswerCollected,
    AnswerRejected,
    ConsumerLag,
    DependencyChanged,
    InterruptResolved,
    ModelCalled,
    Observation,
    PauseResumed,
    Published,
    RecordDeadLettered,
    RecordHandled,
    RecordTaken,
    RunCompletion,
    RunFailure,
    RunPaused,
    RunStarted,
    StoreCalled,
    ToolCalled,
)

__all__ = ["FIELDS_ATTRIBUTE", "LogLines"]

FIELDS_ATTRIBUTE = "fields"  # the LogRecord attribute that holds a line's fields
_DETAIL_LIMIT = 200

Fields = dict[str, str | int | None]


class LogLines:
    """An ``Observer`` that writes the run lifecycle to ``logger``."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("intermission.runs")

    def observe(self, event: Observation) -> None:
        match event:
            case RunStarted(run_id=run_id):
                self._line(logging.INFO, "run requested", {"run_id": run_id})
            case RunPaused(run_id=run_id, snapshot_version=version, interrupts=interrupts):
                self._line(
                    logging.INFO,
                    "run paused",
                    {"run_id": run_id, "snapshot_version": version, "interrupts": interrupts},
                )
            case AnswerCollected(run_id=run_id, snapshot_version=version, resume_id=resume, outstanding=left):
                self._line(
                    logging.INFO,
                    "partial answer",
                    {"run_id": run_id, "snapshot_version": version, "resume_id": resume, "outstanding": left},
                )
            case PauseResumed(run_id=run_id, snapshot_version=version, resume_id=resume):
                self._line(
                    logging.INFO,
                    "run resumed",
                    {"run_id": run_id, "snapshot_version": version, "resume_id": resume},
                )
            case AnswerRejected(
                run_id=run_id, snapshot_version=version, resume_id=resume, reason=reason, detail=detail
            ):
                self._line(
                    logging.INFO,
                    "resume rejected",
                    {
                        "run_id": run_id,
                        "snapshot_version": version,
                        "resume_id": resume,
                        "reason": reason,
                        "detail": detail[:_DETAIL_LIMIT],
                    },
                )
            case RunCompletion(run_id=run_id, snapshot_version=version, finish_reason=finish):
                self._line(
                    logging.INFO,
                    "run completed",
                    {"run_id": run_id, "snapshot_version": version, "finish_reason": finish},
                )
            case RunFailure(run_id=run_id, snapshot_version=version, code=code, message=message):
                self._line(
                    logging.WARNING,
                    "run failed",
                    {
                        "run_id": run_id,
                        "snapshot_version": version,
                        "code": code,
                        "detail": message[:_DETAIL_LIMIT],
                    },
                )
            case RecordDeadLettered(
                topic=topic, partition=partition, offset=offset, key=key, reason=reason, detail=detail
            ):
                self._line(
                    logging.WARNING,
                    "record dead-lettered",
                    {
                        "run_id": key or None,  # records are keyed by run id
                        "topic": topic,
                        "partition": partition,
                        "offset": offset,
                        "reason": reason,
                        "detail": detail[:_DETAIL_LIMIT],
                    },
                )
            case (
                RecordTaken()
                | RecordHandled()
                | InterruptResolved()
                | ModelCalled()
                | ToolCalled()
                | StoreCalled()
                | Published()
                | DependencyChanged()  # health.py logs each change and a periodic summary
                | ConsumerLag()
            ):
                return
            case never:
                assert_never(never)

    def _line(self, level: int, event: str, fields: Fields) -> None:
        if not self.logger.isEnabledFor(level):
            return
        known = {name: value for name, value in fields.items() if value is not None}
        text = " ".join(f"{name}={_quoted(value)}" for name, value in known.items())
        self.logger.log(level, "%s %s", event, text, extra={FIELDS_ATTRIBUTE: {"event": event, **known}})


def _quoted(value: str | int) -> str:
    text = str(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text
