"""Every error the producer SDK raises, in one small tree.

ProducerError                 base of all errors below
├── ClientUsageError          the calling code is wrong: an empty run id or idempotency key, a
│                             client used outside ``async with``, an empty resume, an event the
│                             worker would dead-letter (``.reason`` then names the dead letter's
│                             reason: invalid_fields, schema_too_complex), ...
├── AnswerError               a resume does not fit the InterruptRaised it answers; found
│                             locally, before anything is sent. ``.reason`` uses the names of
│                             ResumeRejected.reason: unknown_ref, duplicate, invalid_output,
│                             invalid_input, not_restartable. ``.ref`` names the interrupt,
│                             ``.field`` the offending field ("" for the whole value).
├── BrokerError               the broker could not be reached or refused a request; the
│   │                         cause is the Kafka client's own error, ``.retriable`` says
│   │                         whether the same call may succeed later
│   └── RecordRefusedError    the brokers answered and refuse this record for what it is
│                             (``.reason``: too_large, invalid_topic, unknown_topic,
│                             not_authorized, invalid_record); never retriable
└── ResultTimeout             no result arrived in time (also a TimeoutError, so code that
                              already catches TimeoutError keeps working)
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from intermission_schemas import RejectReason

# The service's own reasons: the SDK checks answers with the same function the worker uses.
AnswerReason: TypeAlias = RejectReason


class ProducerError(Exception):
    """Base of every error the producer SDK raises."""


class ClientUsageError(ProducerError):
    """The calling code is wrong; the message says how. ``reason`` is set when the worker would
    refuse the event: the reason of the dead letter it would get."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class AnswerError(ProducerError):
    """An answer that the service would reject, caught before it was sent."""

    def __init__(
        self, reason: AnswerReason, detail: str, *, ref: str | None = None, field: str | None = None
    ):
        where = f" (interrupt {ref!r}" + (f", field {field!r}" if field else "") + ")" if ref else ""
        super().__init__(f"{reason}: {detail}{where}")
        self.reason: AnswerReason = reason
        self.detail = detail
        self.ref = ref
        self.field = field


class BrokerError(ProducerError):
    """Kafka failed: the broker is unreachable, refused the request, or the client broke."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


RefusalReason: TypeAlias = Literal[
    "too_large", "invalid_topic", "unknown_topic", "not_authorized", "invalid_record"
]


class RecordRefusedError(BrokerError):
    """The brokers are there and refuse this record: its topic is not a valid name, does not
    exist (and is not created on use), may not be written by this client, or the record is over
    a size limit (``limit`` when it is the producer's own, None for the broker's or topic's).
    Sending the same record again cannot succeed; it is never an outage."""

    def __init__(
        self, message: str, *, topic: str, reason: RefusalReason, size: int = 0, limit: int | None = None
    ) -> None:
        super().__init__(message, retriable=False)
        self.topic = topic
        self.reason: RefusalReason = reason
        self.size = size
        self.limit = limit


class ResultTimeout(ProducerError, TimeoutError):
    """No RunCompleted or RunFailed for ``run_id`` within ``timeout`` seconds.

    The request may still be running: submitting it again with the same idempotency key is safe.
    """

    def __init__(self, run_id: str, timeout: float, what: str = "no result") -> None:
        super().__init__(f"{what} for run {run_id!r} within {timeout:g} s")
        self.run_id = run_id
        self.timeout = timeout
