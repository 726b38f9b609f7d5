"""Records that break the request bounds, straight onto the requests topic (as a producer that
skips the SDK would send them): each is a dead letter with a typed reason on the first try, never
``poison`` after retries, and the partition moves on to the next valid run."""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness import Harness
from hostile import doubling, nested
from intermission.service.wiring.settings import Settings
from intermission_schemas import RunCompleted


def _request(**fields: Any) -> bytes:
    run_id = f"bad-{uuid.uuid4().hex[:8]}"
    record = {"type": "GenerateRequest", "runId": run_id, "idempotencyKey": run_id, **fields}
    record.setdefault("messages", [{"role": "user", "content": [{"text": "hi"}]}])
    return json.dumps(record).encode()


BAD: list[tuple[bytes, str, str]] = [
    (_request(replyTo=".."), "invalid_fields", "replyTo"),
    (_request(replyTo="__consumer_offsets"), "invalid_fields", "replyTo"),
    (_request(replyTo="billing.results"), "invalid_fields", "not an allowed reply topic"),
    # a run that pauses at once: its deadline used to overflow after the pause was planned
    (_request(tools=["review"], expiry={"afterSeconds": 1e300}), "invalid_fields", "afterSeconds"),
    (_request(input=nested(70)), "invalid_fields", "nested deeper"),
    (
        _request(interrupts=[{"name": "ask", "description": "", "outputSchema": {"$ref": "#"}}]),
        "schema_too_complex",
        "refers to itself",
    ),
    (
        _request(interrupts=[{"name": "ask", "description": "", "inputSchema": doubling(14)}]),
        "schema_too_complex",
        "nodes",
    ),
]


async def test_out_of_bounds_requests_are_typed_dead_letters_and_the_next_run_completes(
    harness: Harness,
) -> None:
    worker = await harness.start_worker(reply_topics=("team-*",))
    topics = harness.backend.topics
    bad = [*BAD, (_request(replyTo=topics.requests), "invalid_fields", "service's own topics")]
    for value, _, _ in bad:
        await harness.backend.publish_raw(topics.requests, "bad", value)
    ok = f"ok-{uuid.uuid4().hex[:8]}"
    await harness.submit(ok, "hello", reply_to=topics.results)
    done = await harness.result(ok, RunCompleted)
    await harness.wait_for(lambda: len(harness.dead_letters) >= len(bad))
    await worker.stop()
    assert done.text == "echo: hello"
    assert [d.reason for d in harness.dead_letters] == [reason for _, reason, _ in bad]
    for letter, (value, _, detail) in zip(harness.dead_letters, bad, strict=True):
        assert letter.value == value
        assert detail in letter.detail, letter.detail
    assert not [r for r in harness.results if getattr(r, "code", None) == "poison"]


def test_the_allow_list_is_read_from_the_environment() -> None:
    settings = Settings.load({"INTERMISSION_REPLY_TOPICS": "team-*.results, billing ,"})
    assert settings.reply_topic_patterns == ("team-*.results", "billing")
    assert Settings().reply_topic_patterns == ()
