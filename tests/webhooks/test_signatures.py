"""Our webhooks as a receiver sees them: signed so that `standardwebhooks.Webhook.verify`
accepts them, a changed body or id refused, the payload carrying each call's answer URL."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from events_kit import AT, raised, subscription
from intermission.webhooks import Delivered, Permanent, Sender, body, signed_headers, webhook_id
from receiver_kit import SECRET, Receiver, serving
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


async def test_a_receiver_verifying_with_standardwebhooks_accepts_our_webhooks() -> None:
    receiver = Receiver()
    async with serving(receiver.app) as served, httpx.AsyncClient() as client:
        sender = Sender(client, timeout_seconds=10)
        event = raised()
        msg_id = webhook_id("tickets", event)
        payload = body(event, AT, "https://inbox.example.com/")
        outcome = await sender.attempt(subscription(served.url), msg_id, payload)
    assert outcome == Delivered(204)
    assert receiver.rejected == 0
    received = receiver.processed[msg_id]
    assert received["type"] == "InterruptRaised"
    [call] = received["data"]["interrupts"]
    assert call["answerUrl"] == "https://inbox.example.com/api/answer/tok.en-1"
    assert "token" not in call  # only inside its URL
    assert call["tool"] == "transferMoney"
    assert call["input"] == {"toAccountId": "ABC123", "amount": 100000}
    assert received["data"]["runId"] == "run-1"


async def test_a_tampered_body_or_id_is_refused_by_the_receiver() -> None:
    receiver = Receiver()
    event = raised()
    msg_id = webhook_id("tickets", event)
    payload = body(event, AT, None)
    headers = signed_headers(SECRET, msg_id, datetime.now(UTC), payload)
    tampered = payload.replace(b"100000", b"999999")
    async with serving(receiver.app) as served, httpx.AsyncClient() as client:
        changed_body = await client.post(served.url, content=tampered, headers=headers)
        changed_id = await client.post(
            served.url, content=payload, headers={**headers, "webhook-id": "msg_other"}
        )
        honest = await client.post(served.url, content=payload, headers=headers)
    assert (changed_body.status_code, changed_id.status_code, honest.status_code) == (401, 401, 204)
    assert receiver.rejected == 2
    # the library itself, on the same bytes
    try:
        Webhook(SECRET).verify(tampered, headers)
    except WebhookVerificationError:
        pass
    else:
        raise AssertionError("a tampered body verified")


async def test_a_wrong_secret_is_a_permanent_failure_not_a_retry() -> None:
    receiver = Receiver(secret="whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUE=")
    async with serving(receiver.app) as served, httpx.AsyncClient() as client:
        outcome = await Sender(client, timeout_seconds=10).attempt(
            subscription(served.url), "msg_1", body(raised(), AT, None)
        )
    assert isinstance(outcome, Permanent)
    assert outcome.error.startswith("HTTP 401")


def test_the_webhook_id_is_stable_per_subscription_and_event() -> None:
    assert webhook_id("tickets", raised()) == webhook_id("tickets", raised())
    assert webhook_id("tickets", raised()) != webhook_id("chat", raised())
    assert webhook_id("tickets", raised("run-1")) != webhook_id("tickets", raised("run-2"))
    assert body(raised(), AT, None) == body(raised(), AT, None)  # the same bytes on every attempt
