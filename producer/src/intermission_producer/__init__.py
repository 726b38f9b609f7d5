"""Async client for Intermission: submit generations, answer interrupts, replay runs.

    async with IntermissionClient("kafka:9092") as client:
        result = await client.submit_and_wait(request, timeout=600)      # upstream service
        async for raised in client.interrupts(group_id="approvals-ui"):  # approval system
            await client.respond(raised, {ref: output}, answered_by="alice")

The event types come from ``intermission_schemas`` and are re-exported here, so one import
serves a caller. The client runs on a `Transport`: Kafka (`KafkaTransport`, built for you from
bootstrap servers) or any object with the same three methods, such as the in-memory log of
``intermission.testing``: ``IntermissionClient(transport=log)``.

Tracing (OpenTelemetry's API; install an SDK to record): ``submit`` sends the current trace
context in the record's W3C ``traceparent``/``tracestate`` headers, and an answer continues the
trace of the InterruptRaised it answers (``answer_headers`` for answers you publish yourself).
"""

from typing import TYPE_CHECKING, Any

from intermission_schemas import (
    ExpiryPolicy,
    GenerateRequest,
    InterruptRaised,
    PendingInterrupt,
    RespondAnswer,
    RestartAnswer,
    ResultEvent,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    Topics,
)

from ._answers import AnswerKey, build_resume
from ._client import IntermissionClient
from ._errors import (
    AnswerError,
    AnswerReason,
    BrokerError,
    ClientUsageError,
    ProducerError,
    RecordRefusedError,
    RefusalReason,
    ResultTimeout,
)
from ._security import KafkaSecurity
from ._tracing import answer_headers
from ._transport import Headers, Transport, TransportRecord

if TYPE_CHECKING:
    from ._kafka import KafkaTransport
    from ._producer import KafkaProducer

__all__ = [
    "AnswerError",
    "AnswerKey",
    "AnswerReason",
    "BrokerError",
    "ClientUsageError",
    "ExpiryPolicy",
    "GenerateRequest",
    "Headers",
    "IntermissionClient",
    "InterruptRaised",
    "KafkaProducer",
    "KafkaSecurity",
    "KafkaTransport",
    "PendingInterrupt",
    "ProducerError",
    "RecordRefusedError",
    "RefusalReason",
    "RespondAnswer",
    "RestartAnswer",
    "ResultEvent",
    "ResultTimeout",
    "ResumeRejected",
    "ResumeRequested",
    "RunCompleted",
    "RunFailed",
    "Topics",
    "Transport",
    "TransportRecord",
    "answer_headers",
    "build_resume",
]


def __getattr__(name: str) -> Any:
    # KafkaTransport brings aiokafka, a tenth of a second of start-up that approval tools built
    # on build_resume or on their own Transport never need.
    if name == "KafkaTransport":
        from ._kafka import KafkaTransport

        return KafkaTransport
    if name == "KafkaProducer":
        from ._producer import KafkaProducer

        return KafkaProducer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
