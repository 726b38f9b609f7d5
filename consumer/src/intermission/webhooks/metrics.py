"""The dispatcher's Prometheus metrics, on a registry of its own, labelled by subscription id
(a small closed set: the subscriptions file). ``WEBHOOK_METRICS`` is the one list of them; the
README's webhook metrics table is checked against it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from ..service.observe.metrics import MetricSpec

__all__ = ["WEBHOOK_METRICS", "WebhookMetrics"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

WEBHOOK_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "intermission_webhook_deliveries_total",
        "counter",
        ("subscription",),
        "Webhooks delivered: the receiver answered 2xx.",
    ),
    MetricSpec(
        "intermission_webhook_failures_total",
        "counter",
        ("subscription", "kind"),
        "Failed attempts: kind retryable (5xx, 408/409/425/429, timeout, connection) or permanent "
        "(any other status).",
    ),
    MetricSpec(
        "intermission_webhook_retries_total",
        "counter",
        ("subscription",),
        "Attempts after the first one of a webhook.",
    ),
    MetricSpec(
        "intermission_webhook_dead_letters_total",
        "counter",
        ("subscription",),
        "Webhooks given up (a permanent failure, or retries past the maximum age) and sent to "
        "the webhook dead-letter topic.",
    ),
    MetricSpec(
        "intermission_webhook_attempt_duration_seconds",
        "histogram",
        ("subscription",),
        "One attempt, from sending the request to the receiver's answer or the failure.",
    ),
    MetricSpec(
        "intermission_webhook_pending",
        "gauge",
        ("subscription",),
        "Events taken from the topics and not yet delivered or dead-lettered.",
    ),
)


class WebhookMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        help_of = {spec.name: spec.meaning for spec in WEBHOOK_METRICS}

        def counter(name: str, *labels: str) -> Counter:
            return Counter(name.removesuffix("_total"), help_of[name], labels, registry=self.registry)

        self.deliveries = counter("intermission_webhook_deliveries_total", "subscription")
        self.failures = counter("intermission_webhook_failures_total", "subscription", "kind")
        self.retries = counter("intermission_webhook_retries_total", "subscription")
        self.dead_letters = counter("intermission_webhook_dead_letters_total", "subscription")
        name = "intermission_webhook_attempt_duration_seconds"
        self.duration = Histogram(
            name, help_of[name], ("subscription",), registry=self.registry, buckets=_BUCKETS
        )
        name = "intermission_webhook_pending"
        self.pending = Gauge(name, help_of[name], ("subscription",), registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
