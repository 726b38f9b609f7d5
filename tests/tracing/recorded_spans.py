"""Spans as the tests read them, whichever process recorded them: a small frozen record, built
from the SDK's ReadableSpan here or from a JSON line a worker process wrote."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RecordedSpan:
    name: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_id: str | None
    kind: str  # SpanKind name: INTERNAL, PRODUCER, CONSUMER, CLIENT
    status: str  # StatusCode name: UNSET, OK, ERROR
    attributes: dict[str, Any]
    links: tuple[str, ...]  # linked span ids

    @staticmethod
    def of(span: Any) -> RecordedSpan:
        """From an SDK ReadableSpan."""
        context = span.get_span_context()
        return RecordedSpan(
            name=span.name,
            trace_id=f"{context.trace_id:032x}",
            span_id=f"{context.span_id:016x}",
            parent_id=f"{span.parent.span_id:016x}" if span.parent is not None else None,
            kind=span.kind.name,
            status=span.status.status_code.name,
            attributes=dict(span.attributes or {}),
            links=tuple(f"{link.context.span_id:016x}" for link in span.links),
        )

    def to_json(self) -> str:
        return json.dumps(self.__dict__, default=list)

    @staticmethod
    def from_json(line: str) -> RecordedSpan:
        data = json.loads(line)
        data["links"] = tuple(data["links"])
        return RecordedSpan(**data)


def read_span_file(path: Path) -> list[RecordedSpan]:
    if not path.exists():
        return []
    return [RecordedSpan.from_json(line) for line in path.read_text().splitlines() if line.strip()]


def named(spans: Iterable[RecordedSpan], name: str) -> list[RecordedSpan]:
    return [span for span in spans if span.name == name]


def one(spans: Iterable[RecordedSpan], name: str) -> RecordedSpan:
    found = named(spans, name)
    assert len(found) == 1, f"{len(found)} spans named {name!r}: {sorted({s.name for s in spans})}"
    return found[0]


def ancestors(span: RecordedSpan, spans: Sequence[RecordedSpan]) -> list[str]:
    """Names of the span's parents, nearest first, as far as the recorded spans reach."""
    by_id = {s.span_id: s for s in spans}
    names = []
    parent = by_id.get(span.parent_id or "")
    while parent is not None:
        names.append(parent.name)
        parent = by_id.get(parent.parent_id or "")
    return names
