"""Prometheus metrics from observations, on a registry of their own.

Each worker has its own ``CollectorRegistry`` (never the process-wide default), so tests and
several workers in one process never see each other's numbers. ``METRICS`` is the one list of
what is exposed: the registry is built from it, the README's table is checked against it, and so
is the Grafana dashboard.

Names follow Prometheus' conventions: the ``intermission_`` prefix, ``_total`` for counters,
base units (``_seconds``), and labels only from small closed sets (outcomes, reasons, codes,
the worker's own topics, the app's tool names), never run or resume ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias, assert_never, get_args

import msgspec
from intermission_schemas import DeadLetterReason, RejectReason
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from .events import (
    AnswerCollected,
    AnswerRejected,
    ConsumerLag,
    Dependency,
    DependencyChanged,
    InterruptOutcome,
    InterruptResolved,
    ModelCalled,
    Observation,
    PauseResumed,
    Published,
    RecordDeadLettered,
    RecordHandled,
    RecordTaken,
    RunCompletion,
    RunFailure,
    RunPaused,
    RunStarted,
    StoreCalled,
    ToolCalled,
)

__all__ = ["CONTENT_TYPE", "METRICS", "MetricKind", "MetricSpec", "Metrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
MetricKind: TypeAlias = Literal["counter", "gauge", "histogram"]

# Model and tool calls, and a record's whole cycle, take from milliseconds to minutes.
_SLOW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
# Whole runs wait for people: from a second (no pause) to days.
_RUN_BUCKETS = (
    0.1,
    0.5,
    1.0,
    5.0,
    15.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4 * 3600.0,
    86400.0,
    3 * 86400.0,
    7 * 86400.0,
)
# S3 and Kafka round trips: about a millisecond here, seconds when something is wrong.
_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class MetricSpec(msgspec.Struct, frozen=True):
    name: str  # as exposed: a counter's with its _total
    kind: MetricKind
    labels: tuple[str, ...]
    meaning: str


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "intermission_records_handled_total",
        "counter",
        ("topic", "outcome"),
        "Records taken from the requests and resumes topics, by how their handling ended: "
        "done, dead_letter, tampered, abandoned (cancelled by a stop or a rebalance).",
    ),
    MetricSpec(
        "intermission_record_duration_seconds",
        "histogram",
        ("topic", "outcome"),
        "The full cycle of one record, from taking it to every effect being durable: "
        "a request to its pause or result, an answer to the next pause or the result.",
    ),
    MetricSpec(
        "intermission_run_duration_seconds",
        "histogram",
        ("outcome",),
        "Whole runs, from the first step's start to the result, across every pause and the time "
        "people took to answer: outcome completed or failed.",
    ),
    MetricSpec("intermission_records_in_flight", "gauge", (), "Records taken and not yet finished."),
    MetricSpec(
        "intermission_dead_letters_total", "counter", ("reason",), "Records sent to the dead-letter topic."
    ),
    MetricSpec("intermission_runs_started_total", "counter", (), "Requests whose first step began."),
    MetricSpec(
        "intermission_interrupts_raised_total",
        "counter",
        (),
        "Interrupts in new pauses (a pause with two interrupts counts two).",
    ),
    MetricSpec(
        "intermission_interrupts_resolved_total",
        "counter",
        ("outcome",),
        "Interrupts settled: responded, restarted, expired (the run failed), expired_default "
        "(answered by the expiry policy's default).",
    ),
    MetricSpec(
        "intermission_partial_answers_total",
        "counter",
        (),
        "Answers applied to a pause that still waits for other refs.",
    ),
    MetricSpec(
        "intermission_resumes_total",
        "counter",
        (),
        "Pauses claimed with every ref answered: the run continues.",
    ),
    MetricSpec(
        "intermission_resume_rejections_total",
        "counter",
        ("reason",),
        "Answers rejected with ResumeRejected, by reason.",
    ),
    MetricSpec("intermission_runs_completed_total", "counter", (), "Runs that ended with RunCompleted."),
    MetricSpec(
        "intermission_runs_failed_total", "counter", ("code",), "Runs that ended with RunFailed, by code."
    ),
    MetricSpec(
        "intermission_model_call_duration_seconds",
        "histogram",
        ("outcome",),
        "Model calls (replies read back from the journal are not calls).",
    ),
    MetricSpec(
        "intermission_tool_call_duration_seconds",
        "histogram",
        ("tool", "outcome"),
        "Tool function calls, by tool; outcome interrupted is a tool that paused.",
    ),
    MetricSpec(
        "intermission_store_operation_duration_seconds",
        "histogram",
        ("operation", "outcome"),
        "Object store (S3) operations; outcome precondition is a conditional write that lost.",
    ),
    MetricSpec(
        "intermission_publish_duration_seconds",
        "histogram",
        ("topic", "outcome"),
        "Publishes to the log (Kafka), until acknowledged by every in-sync replica.",
    ),
    MetricSpec(
        "intermission_consumer_lag_records",
        "gauge",
        ("topic", "partition"),
        "Records on each partition this worker holds that it has not taken yet.",
    ),
    MetricSpec(
        "intermission_dependency_up",
        "gauge",
        ("dependency",),
        "1 while the dependency (store, log) answers, 0 from its first failure until it answers again.",
    ),
)


class Metrics:
    """An ``Observer`` that keeps ``METRICS`` on its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        spec = {s.name: s for s in METRICS}

        def counter(name: str) -> Counter:
            return Counter(name, spec[name].meaning, spec[name].labels, registry=self.registry)

        def gauge(name: str) -> Gauge:
            return Gauge(name, spec[name].meaning, spec[name].labels, registry=self.registry)

        def histogram(name: str, buckets: Sequence[float]) -> Histogram:
            s = spec[name]
            return Histogram(name, s.meaning, s.labels, registry=self.registry, buckets=buckets)

        self.records_handled = counter("intermission_records_handled_total")
        self.record_duration = histogram("intermission_record_duration_seconds", _SLOW_BUCKETS)
        self.run_duration = histogram("intermission_run_duration_seconds", _RUN_BUCKETS)
        self.in_flight = gauge("intermission_records_in_flight")
        self.dead_letters = counter("intermission_dead_letters_total")
        self.runs_started = counter("intermission_runs_started_total")
        self.interrupts_raised = counter("intermission_interrupts_raised_total")
        self.interrupts_resolved = counter("intermission_interrupts_resolved_total")
        self.partial_answers = counter("intermission_partial_answers_total")
        self.resumes = counter("intermission_resumes_total")
        self.rejections = counter("intermission_resume_rejections_total")
        self.completed = counter("intermission_runs_completed_total")
        self.failed = counter("intermission_runs_failed_total")
        self.model_calls = histogram("intermission_model_call_duration_seconds", _SLOW_BUCKETS)
        self.tool_calls = histogram("intermission_tool_call_duration_seconds", _SLOW_BUCKETS)
        self.store_operations = histogram("intermission_store_operation_duration_seconds", _FAST_BUCKETS)
        self.publishes = histogram("intermission_publish_duration_seconds", _FAST_BUCKETS)
        self.lag = gauge("intermission_consumer_lag_records")
        self.dependency_up = gauge("intermission_dependency_up")
        # Series of closed label sets exist from the start at 0, so that rate() and increase()
        # see the first event, and a dashboard shows 0 rather than "no data".
        for reason in get_args(DeadLetterReason):
            self.dead_letters.labels(reason)
        for rejected in get_args(RejectReason):
            self.rejections.labels(rejected)
        for outcome in get_args(InterruptOutcome):
            self.interrupts_resolved.labels(outcome)
        for dependency in get_args(Dependency):
            self.dependency_up.labels(dependency).set(1)  # Health starts out assuming both are up

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format, as ``/metrics`` serves it."""
        return generate_latest(self.registry)

    def observe(self, event: Observation) -> None:
        match event:
            case RecordTaken():
                self.in_flight.inc()
            case RecordHandled(topic=topic, outcome=outcome, seconds=seconds):
                self.in_flight.dec()
                self.records_handled.labels(topic, outcome).inc()
                self.record_duration.labels(topic, outcome).observe(seconds)
            case RecordDeadLettered(reason=reason):
                self.dead_letters.labels(reason).inc()
            case RunStarted():
                self.runs_started.inc()
            case RunPaused(interrupts=interrupts):
                self.interrupts_raised.inc(interrupts)
            case AnswerCollected():
                self.partial_answers.inc()
            case PauseResumed():
                self.resumes.inc()
            case InterruptResolved(outcome=outcome):
                self.interrupts_resolved.labels(outcome).inc()
            case AnswerRejected(reason=reason):
                self.rejections.labels(reason).inc()
            case RunCompletion(run_seconds=seconds):
                self.completed.inc()
                if seconds is not None:
                    self.run_duration.labels("completed").observe(seconds)
            case RunFailure(code=code, run_seconds=seconds):
                self.failed.labels(code).inc()
                if seconds is not None:
                    self.run_duration.labels("failed").observe(seconds)
            case ModelCalled(seconds=seconds, outcome=outcome):
                self.model_calls.labels(outcome).observe(seconds)
            case ToolCalled(tool=tool, seconds=seconds, outcome=outcome):
                self.tool_calls.labels(tool, outcome).observe(seconds)
            case StoreCalled(operation=operation, seconds=seconds, outcome=outcome):
                self.store_operations.labels(operation, outcome).observe(seconds)
            case Published(topic=topic, seconds=seconds, outcome=outcome):
                self.publishes.labels(topic, outcome).observe(seconds)
            case DependencyChanged(dependency=dependency, up=up):
                self.dependency_up.labels(dependency).set(1 if up else 0)
            case ConsumerLag(partitions=partitions):
                self.lag.clear()  # partitions moved to another member are not ours to report
                for each in partitions:
                    self.lag.labels(each.topic, str(each.partition)).set(each.lag)
            case never:
                assert_never(never)
