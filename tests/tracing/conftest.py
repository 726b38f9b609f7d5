"""An OpenTelemetry SDK for the tracing tests: installed once per test process (a global
provider can be set only once), recording into an in-memory exporter only while a test holds
the ``spans`` fixture, so that the rest of the session records nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from span_recording import Spans, WhileRecording

_processor: WhileRecording | None = None


@pytest.fixture
def spans() -> Iterator[Spans]:
    global _processor
    if _processor is None:
        _processor = WhileRecording()
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
