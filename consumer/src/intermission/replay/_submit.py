"""Submitting many requests: one GenerateRequest a line, at a bounded rate.

async with IntermissionClient("kafka:9092") as client:
    sent = await submit_many(client, load_requests(Path("requests.jsonl")), rate=50)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import msgspec
from intermission_producer import IntermissionClient
from intermission_schemas import GenerateRequest, decode_request

from ..errors import UsageError

__all__ = ["load_requests", "submit_many"]


def load_requests(path: Path) -> list[GenerateRequest]:
    """GenerateRequests from a JSONL file (camelCase, as on the wire); the event tag and an
    idempotency key (the run id) may be left out. Every line is checked before any is sent."""
    requests: list[GenerateRequest] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            fields = msgspec.json.decode(line)
            if not isinstance(fields, dict):
                raise UsageError("not a JSON object")
            fields.setdefault("type", "GenerateRequest")
            if fields.get("runId"):
                fields.setdefault("idempotencyKey", fields["runId"])
            requests.append(decode_request(msgspec.json.encode(fields)))
        except Exception as exc:
            raise UsageError(f"{path}:{number}: not a GenerateRequest: {exc}") from exc
    return requests


async def submit_many(
    client: IntermissionClient,
    requests: Iterable[GenerateRequest],
    *,
    rate: float | None = None,
    on_sent: Callable[[GenerateRequest], None] | None = None,
) -> int:
    """Submit in order, at most ``rate`` requests a second (None: as fast as the broker takes
    them); returns how many were sent."""
    started = time.monotonic()
    sent = 0
    for request in requests:
        if rate is not None:
            due = started + sent / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await client.submit(request)
        sent += 1
        if on_sent is not None:
            on_sent(request)
    return sent
