"""The worker's spans: one per record handled, per publish, per store write, per resumed step.

One run is one trace, however long it pauses:

    send intermission.requests            (the producer SDK's submit)
    └─ process intermission.requests      (a worker; parent from the record's traceparent)
       ├─ chat, execute_tool {name}       (the engine)
       ├─ store create|replace|delete     (each write, with its key prefix)
       └─ send intermission.approvals     (InterruptRaised; the pause's context is stored)
    send intermission.resumes             (the approver's answer; parent: the stored context)
    └─ process intermission.resumes       (any worker, days later)
    resume run                            (parent: the stored pause's context; linked to the
       ├─ chat, execute_tool, store ...    process span of the answer that completed the pause)
       └─ send intermission.results

Only OpenTelemetry's API is used (the SDK is the operator's to install), and always W3C trace
context, through the producer SDK's helpers. No span type leaves this module. With no SDK, a
span is started only where a context came in (a record's headers, a stored pause) that must be
passed on: every other span would be a no-op that costs time on each record's path.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager

from intermission_producer._tracing import (
    TRACE_HEADERS,
    context_from_headers,
    context_of,
    current_trace_context,
    sending,
)
from intermission_schemas import TraceContext
from opentelemetry import trace

from .._tracing import recording
from .ports import Headers, PreconditionFailed, Publisher, Record, SnapshotStore, StoredObject

__all__ = [
    "TracedPublisher",
    "TracedStore",
    "current_trace_context",
    "forking",
    "mark_failed",
    "processing",
    "resuming",
]

_tracer = trace.get_tracer("intermission.service")


@contextmanager
def processing(record: Record) -> Iterator[None]:
    """The span of handling one record, a child of the context its headers carry."""
    if not recording() and not any(name in TRACE_HEADERS for name, _ in record.headers):
        yield  # no SDK and no context to pass on: the span would be the invalid one
        return
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": record.topic,
        "messaging.destination.partition.id": str(record.partition),
        "messaging.kafka.offset": record.offset,
    }
    if record.key is not None:
        attributes["messaging.kafka.message.key"] = record.key.decode("utf-8", "replace")
    with _tracer.start_as_current_span(
        f"process {record.topic}",
        context=context_from_headers(record.headers),
        kind=trace.SpanKind.CONSUMER,
        attributes=attributes,
    ):
        yield


@contextmanager
def resuming(stored: TraceContext | None, run_id: str, version: int) -> Iterator[None]:
    """The span of continuing a pause: its parent is the context the run paused in, so the
    step joins the run's trace; the span that brought the answer, if another, is linked."""
    attributes: dict[str, str | int] = {
        "intermission.run_id": run_id,
        "intermission.snapshot.version": version,
    }
    with _continuing("resume run", stored, attributes):
        yield


@contextmanager
def forking(stored: TraceContext | None, run_id: str, parent: str) -> Iterator[None]:
    """The span of forking a stored pause into a new run: a branch of the parent run's trace
    (its parent is the context the parent paused in), so the fork's pause and everything after
    it are found from the run it came from; the caller's own span, if another, is linked."""
    with _continuing("fork run", stored, {"intermission.run_id": run_id, "intermission.forked_from": parent}):
        yield


@contextmanager
def _continuing(name: str, stored: TraceContext | None, attributes: dict[str, str | int]) -> Iterator[None]:
    if stored is None and not recording():
        yield  # without an SDK the span would be the current one again
        return
    current = trace.get_current_span().get_span_context()
    links = [trace.Link(current)] if current.is_valid else []
    with _tracer.start_as_current_span(
        name,
        # No stored context (a pause stored before tracing): the current span is the parent.
        context=context_of(stored) if stored is not None else None,
        links=links if stored is not None else [],
        attributes=attributes,
    ):
        yield


def mark_failed(reason: str) -> None:
    """Give the current span an error status: the record or run failed without an exception
    reaching the span (a dead letter, a RunFailed)."""
    trace.get_current_span().set_status(trace.Status(trace.StatusCode.ERROR, reason))


class TracedPublisher:
    """A `Publisher` whose every publish is a producer span carried in the record's headers."""

    def __init__(self, inner: Publisher) -> None:
        self.inner = inner

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        kept = [(name, data) for name, data in headers if name not in TRACE_HEADERS]
        if not recording() and not trace.get_current_span().get_span_context().is_valid:
            await self.inner.publish(topic, key, value, kept)  # no span, and no context to carry
            return
        with sending(topic, key) as trace_headers:
            await self.inner.publish(topic, key, value, [*kept, *trace_headers])


class TracedStore:
    """A `SnapshotStore` whose writes are spans (``store create|replace|delete``), with the
    operation and the key's prefix (the key without its last segment). Reads pass through
    untraced: they are many, cheap, and their callers' spans already time them.

    With no SDK installed a write is not wrapped at all: a no-op span still costs about 10 us,
    a cycle makes 10 writes, and a write's span is a leaf that passes no context on."""

    def __init__(self, inner: SnapshotStore) -> None:
        self.inner = inner

    async def create(self, key: str, data: bytes) -> str:
        if not recording():
            return await self.inner.create(key, data)
        with _writing("create", key):
            return await self.inner.create(key, data)

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        if not recording():
            return await self.inner.replace(key, data, etag)
        with _writing("replace", key):
            return await self.inner.replace(key, data, etag)

    async def delete(self, key: str) -> None:
        if not recording():
            await self.inner.delete(key)
            return
        with _writing("delete", key):
            await self.inner.delete(key)

    async def get(self, key: str) -> StoredObject | None:
        return await self.inner.get(key)

    async def list(self, prefix: str) -> list[str]:
        return await self.inner.list(prefix)

    async def list_page(self, prefix: str, *, start_after: str = "", limit: int = 1000) -> builtins.list[str]:
        return await self.inner.list_page(prefix, start_after=start_after, limit=limit)


@contextmanager
def _writing(operation: str, key: str) -> Iterator[None]:
    with _tracer.start_as_current_span(
        f"store {operation}",
        kind=trace.SpanKind.CLIENT,
        attributes={
            "intermission.store.operation": operation,
            "intermission.store.key_prefix": key.rpartition("/")[0],
        },
        # A lost condition is an answer, not a failure: only other errors mark the span.
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except PreconditionFailed:
            span.set_attribute("intermission.store.condition_failed", True)
            raise
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
