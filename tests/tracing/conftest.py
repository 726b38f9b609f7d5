"""An OpenTelemetry SDK for the tracing tests: installed once per test process (a global
provider can be set only once), recording into an in-memory exporter only while a test holds
the ``spans`` fixture, so that the rest of the session records nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from recorded_spans import RecordedSpan


class _WhileRecording(SpanProcessor):
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.recording = False
        self._inner = SimpleSpanProcessor(self.exporter)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self.recording:
            self._inner.on_end(span)


_processor: _WhileRecording | None = None


class Spans:
    def __init__(self, processor: _WhileRecording) -> None:
        self._processor = processor

    def finished(self) -> list[RecordedSpan]:
        return [RecordedSpan.of(span) for span in self._processor.exporter.get_finished_spans()]


@pytest.fixture
def spans() -> Iterator[Spans]:
    global _processor
    if _processor is None:
        _processor = _WhileRecording()
        provider = TracerProvider()
        provider.add_span_processor(_processor)
        trace.set_tracer_provider(provider)
    _processor.exporter.clear()
    _processor.recording = True
    try:
        yield Spans(_processor)
    finally:
        _processor.recording = False
        _processor.exporter.clear()
