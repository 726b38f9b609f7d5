"""W3C trace context in Kafka record headers and in our documents, and the span of a send.

Always W3C Trace Context (``traceparent``, ``tracestate``), whatever propagator the process
configured globally: the same two values are stored in snapshots and in InterruptRaised
(`TraceContext`), and a run must stay readable as one trace wherever it is resumed.

Only OpenTelemetry's API is used. Without an SDK every span is the API's no-op, yet a context
that arrived (a record's headers, a stored pause) is still passed on unchanged.

The worker's tracing (``intermission.service.tracing``) builds on these helpers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from intermission_schemas import TRACEPARENT_HEADER, TRACESTATE_HEADER, InterruptRaised, TraceContext
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

__all__ = [
    "TRACE_HEADERS",
    "Headers",
    "answer_headers",
    "context_from_headers",
    "context_of",
    "current_trace_context",
    "headers_of",
    "sending",
]

# Kafka's header form: (name, value) pairs, names as text, values as bytes.
Headers = Sequence[tuple[str, bytes]]

TRACE_HEADERS = (TRACEPARENT_HEADER, TRACESTATE_HEADER)

_W3C = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("intermission_producer")


def headers_of(context: Context | None = None) -> list[tuple[str, bytes]]:
    """The W3C headers of ``context`` (default: the current one); empty when it has no span."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context)
    return [(name, value.encode("ascii")) for name, value in carrier.items()]


def context_from_headers(headers: Headers) -> Context:
    """The context a record's headers carry; an empty context when they carry none."""
    carrier = {name: value.decode("ascii", "replace") for name, value in headers if name in TRACE_HEADERS}
    return _W3C.extract(carrier) if carrier else Context()


def context_of(stored: TraceContext) -> Context:
    """A context whose parent span is the stored one (a malformed value gives an empty one)."""
    carrier: Mapping[str, str] = {
        TRACEPARENT_HEADER: stored.traceparent,
        TRACESTATE_HEADER: stored.tracestate,
    }
    return _W3C.extract(carrier)


def current_trace_context() -> TraceContext | None:
    """The current span's context as data, to store; None when there is no valid span."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    traceparent = carrier.get(TRACEPARENT_HEADER)
    if traceparent is None:
        return None
    return TraceContext(traceparent=traceparent, tracestate=carrier.get(TRACESTATE_HEADER, ""))


def answer_headers(raised: InterruptRaised) -> list[tuple[str, bytes]]:
    """The record headers of an answer to ``raised``: the run's trace context, so that the
    answer joins the run's trace. For approvers that publish ``build_resume``'s event on their
    own; `IntermissionClient.resume` does this itself. Empty when ``raised`` carries no context."""
    if raised.trace_context is None:
        return []
    return headers_of(context_of(raised.trace_context))


@contextmanager
def sending(topic: str, key: str, *, parent: TraceContext | None = None) -> Iterator[list[tuple[str, bytes]]]:
    """A producer span around one send; yields the headers that carry it to the consumer.

    With ``parent`` (a run's stored context) the span continues that run's trace, and the
    caller's own current span, if it has one elsewhere, is linked rather than lost. A failed
    send ends the span with an error status (the API's default on an exception).
    """
    context: Context | None = None
    links: list[trace.Link] = []
    if parent is not None:
        context = context_of(parent)
        own = trace.get_current_span().get_span_context()
        theirs = trace.get_current_span(context).get_span_context()
        if own.is_valid and own.span_id != theirs.span_id:
            links.append(trace.Link(own))
    with _tracer.start_as_current_span(
        f"send {topic}",
        context=context,
        kind=trace.SpanKind.PRODUCER,
        links=links,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.destination.name": topic,
            "messaging.kafka.message.key": key,
        },
    ):
        yield headers_of()
