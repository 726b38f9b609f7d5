"""A worker process that records its spans, for the cross-process trace test:

    python tracing_worker.py SPANS_FILE

Settings come from the environment as for `intermission worker`. The product installs no
OpenTelemetry SDK; this helper does, as an operator would (e.g. with `opentelemetry-instrument`),
with an exporter that appends each finished span to SPANS_FILE as a JSON line. SIGTERM stops
the worker as in production: records in flight finish, then it leaves the group.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from recorded_spans import RecordedSpan


class JsonLinesExporter(SpanExporter):
    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.path.open("a") as out:
            for span in spans:
                out.write(RecordedSpan.of(span).to_json() + "\n")
        return SpanExportResult.SUCCESS


async def main(spans_file: Path) -> None:
    from intermission.service import Settings
    from intermission.service.wiring.serve import run_worker
    from realservices.kafka import fast_consumer_kwargs

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(spans_file)))
    trace.set_tracer_provider(provider)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await run_worker(Settings.load(os.environ), consumer_options=fast_consumer_kwargs(), stop=stop)
    provider.shutdown()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
