"""One end per run: a run gets exactly one terminal event (RunCompleted or RunFailed), however
often that one is published again (a redelivered record repeats it, which is fine).

``one_end_per_run`` is an autouse fixture for every test of the suite (tests/conftest.py): it watches every
publish through MemoryLog and the Kafka publisher in this process and fails the test when a run
gets two different ends. Real-Kafka tests that read a results topic themselves (or whose workers
run in other processes) call ``assert_one_end`` on what they read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import msgspec
import pytest
from intermission.service.adapters.local import MemoryLog
from intermission_schemas import RunCompleted, RunFailed, decode_result

__all__ = ["EndWatch", "assert_one_end", "one_end_per_run"]


def _end(value: object) -> RunCompleted | RunFailed | None:
    if isinstance(value, bytes):
        try:
            value = decode_result(value)
        except Exception:
            return None  # not a result, or not ours to judge: other checks see to that
    return value if isinstance(value, RunCompleted | RunFailed) else None


def _same(a: RunCompleted | RunFailed, b: RunCompleted | RunFailed) -> bool:
    """Two publications of one end: the same kind, and the same outcome."""
    if isinstance(a, RunFailed) and isinstance(b, RunFailed):
        return a.code == b.code
    if isinstance(a, RunCompleted) and isinstance(b, RunCompleted):
        return (a.text, a.finish_reason, msgspec.json.encode(a.output)) == (
            b.text,
            b.finish_reason,
            msgspec.json.encode(b.output),
        )
    return False


def _describe(end: RunCompleted | RunFailed) -> str:
    return f"RunFailed({end.code})" if isinstance(end, RunFailed) else f"RunCompleted({end.finish_reason})"


class EndWatch:
    """The first end seen per (log, run), and every run that got a different second one."""

    def __init__(self) -> None:
        self.ends: dict[tuple[object, str], RunCompleted | RunFailed] = {}
        self.violations: list[str] = []

    def saw(self, log: object, value: object) -> None:
        """``value``: a record's bytes, or a decoded event."""
        end = _end(value)
        if end is None:
            return
        first = self.ends.setdefault((log, end.run_id), end)
        if not _same(first, end):
            self.violations.append(
                f"run {end.run_id!r} ended twice: {_describe(first)}, then {_describe(end)}"
            )


def assert_one_end(values: Iterable[object]) -> None:
    """For what was read from a results topic (record values or decoded events): no run has two
    different ends."""
    watch = EndWatch()
    for value in values:
        watch.saw(None, value)
    assert not watch.violations, "; ".join(watch.violations)


@pytest.fixture(autouse=True)
def one_end_per_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[EndWatch]:
    watch = EndWatch()
    memory_publish = MemoryLog.publish

    async def watched_memory(
        self: MemoryLog, topic: str, key: str, value: bytes, *args: Any, **kw: Any
    ) -> None:
        await memory_publish(self, topic, key, value, *args, **kw)
        # Per log: two harnesses in one test may reuse a run id on separate logs.
        watch.saw((id(self), topic), value)

    monkeypatch.setattr(MemoryLog, "publish", watched_memory)
    try:
        from intermission.service.adapters.kafka import KafkaPublisher
    except ImportError:  # pragma: no cover - the kafka extra is part of the workspace
        pass
    else:
        kafka_publish = KafkaPublisher.publish

        async def watched_kafka(
            self: KafkaPublisher, topic: str, key: str, value: bytes, *args: Any, **kw: Any
        ) -> None:
            await kafka_publish(self, topic, key, value, *args, **kw)
            watch.saw(topic, value)  # test topics carry a per-test prefix

        monkeypatch.setattr(KafkaPublisher, "publish", watched_kafka)
    yield watch
    assert not watch.violations, "; ".join(watch.violations)
