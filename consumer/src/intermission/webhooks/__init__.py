"""Webhooks for approval systems that are not on Kafka: each InterruptRaised (and, when asked,
each outcome) POSTed to subscribed URLs with Standard Webhooks signatures, at least once, with
the resume-token answer URL of every pending call. See the README's "Webhooks" section."""

from .deadletters import WebhookDeadLetter, WebhookLetterEntry, read_webhook_dead_letters
from .delivery import Delivered, Permanent, Retryable, Sender, signed_headers
from .filters import matches
from .lane import Lane
from .metrics import WEBHOOK_METRICS, WebhookMetrics
from .payload import answer_url, body, webhook_id
from .retry import RetryPolicy
from .subscriptions import Subscription, SubscriptionFilter, load_subscriptions, parse_subscriptions

__all__ = [
    "WEBHOOK_METRICS",
    "Delivered",
    "Lane",
    "Permanent",
    "RetryPolicy",
    "Retryable",
    "Sender",
    "Subscription",
    "SubscriptionFilter",
    "WebhookDeadLetter",
    "WebhookLetterEntry",
    "WebhookMetrics",
    "answer_url",
    "body",
    "load_subscriptions",
    "matches",
    "parse_subscriptions",
    "read_webhook_dead_letters",
    "signed_headers",
    "webhook_id",
]
