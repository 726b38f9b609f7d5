"""Recording spans in this test process: an SDK span processor that keeps finished spans only
while a test holds the ``spans`` fixture, and the view a test reads them through."""

from __future__ import annotations

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from recorded_spans import RecordedSpan

__all__ = ["Spans", "WhileRecording"]


class WhileRecording(SpanProcessor):
    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.recording = False
        self._inner = SimpleSpanProcessor(self.exporter)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if self.recording:
            self._inner.on_end(span)


class Spans:
    def __init__(self, processor: WhileRecording) -> None:
        self._processor = processor

    def finished(self) -> list[RecordedSpan]:
        return [RecordedSpan.of(span) for span in self._processor.exporter.get_finished_spans()]
