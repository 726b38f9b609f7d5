"""When a delivery is tried again, and what counts as worth trying again."""

from __future__ import annotations

import httpx
import pytest
from events_kit import AT, raised, subscription
from intermission.webhooks import Delivered, Permanent, Retryable, RetryPolicy, Sender, body
from receiver_kit import Receiver, serving


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=60, max_age_seconds=3600)
    top = lambda: 0.999999  # noqa: E731
    assert [round(policy.delay(n, top)) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert policy.delay(3, lambda: 0.0) == 0.0  # full jitter: anywhere from zero
    assert policy.delay(10_000, lambda: 1.0) == 60  # no overflow far out


def test_retry_after_is_a_floor_and_the_max_age_ends_retrying() -> None:
    policy = RetryPolicy(base_seconds=1, cap_seconds=60, max_age_seconds=100)
    assert policy.delay(1, lambda: 0.5, retry_after=30) == 30
    assert not policy.gives_up(50, 49)
    assert policy.gives_up(50, 51)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, Delivered),
        (202, Delivered),
        (500, Retryable),
        (503, Retryable),
        (408, Retryable),
        (409, Retryable),
        (429, Retryable),
        (400, Permanent),
        (404, Permanent),
        (410, Permanent),
        (301, Permanent),
    ],
)
async def test_statuses_are_classified(status: int, kind: type) -> None:
    receiver = Receiver()
    receiver.status = status
    receiver.headers = {"retry-after": "7", "location": "http://elsewhere/"} if status >= 300 else {}
    async with serving(receiver.app) as served, httpx.AsyncClient() as client:
        outcome = await Sender(client, timeout_seconds=10).attempt(
            subscription(served.url), "msg_1", body(raised(), AT, None)
        )
    assert isinstance(outcome, kind), outcome
    if isinstance(outcome, Retryable):
        assert outcome.retry_after == 7


async def test_a_receiver_that_is_down_is_retryable() -> None:
    receiver = Receiver()
    async with serving(receiver.app) as served:
        url = served.url
    async with httpx.AsyncClient() as client:
        outcome = await Sender(client, timeout_seconds=10).attempt(subscription(url), "msg_1", b"{}")
    assert isinstance(outcome, Retryable)
    assert "ConnectError" in outcome.error
