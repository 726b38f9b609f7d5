"""`intermission submit --file requests.jsonl --rate N` on real Kafka."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import pytest
from conftest import cli_env, topics
from intermission.cli import app
from intermission.service.adapters.kafka import ensure_topics
from intermission_producer import KafkaTransport
from intermission_schemas import GenerateRequest, decode_request
from realservices.plugin import S3Bucket
from typer.testing import CliRunner

pytestmark = [pytest.mark.kafka, pytest.mark.s3]


async def test_submit_a_jsonl_file_at_a_bounded_rate(
    kafka_bootstrap: str, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    t = topics(f"sub-{uuid.uuid4().hex[:8]}-")
    await ensure_topics(kafka_bootstrap, t.all(), 2, 1)
    env = cli_env(s3_bucket, kafka_bootstrap, t)
    lines = [
        {"runId": f"batch-{n}", "messages": [{"role": "user", "content": [{"text": f"order {n}"}]}]}
        for n in range(20)
    ]
    good = tmp_path / "requests.jsonl"
    good.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(lines[0]) + "\n" + '{"runId": "x", "maxTurns": "many"}\n')

    rejected = await asyncio.to_thread(CliRunner().invoke, app, ["submit", "--file", str(bad)], env=env)
    assert rejected.exit_code == 2, rejected.output
    assert "bad.jsonl:2" in rejected.output

    started = time.monotonic()
    args = ["submit", "--file", str(good), "--rate", "40"]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert f"submitted 20 of 20 request(s) to {t.requests}" in " ".join(result.output.split())
    assert elapsed >= 19 / 40  # the 20th request waits for its slot

    async with (
        KafkaTransport(kafka_bootstrap) as transport,
        transport.read([t.requests], start="beginning", until_end=True) as records,
    ):
        sent = [decode_request(r.value) async for r in records if r.value is not None]
    assert all(isinstance(r, GenerateRequest) for r in sent)
    # Only the good file's requests: the bad file was refused before anything was sent.
    assert sorted(r.run_id for r in sent) == sorted(f"batch-{n}" for n in range(20))
    assert {r.idempotency_key for r in sent} == {r.run_id for r in sent}
