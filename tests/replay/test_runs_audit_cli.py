"""`intermission runs audit` reports the tampering the worker refuses, on real Kafka + SeaweedFS:
a pause's claim removed (a rollback), and a journal entry resealed without the key. Exit 1, and
the problem."""

from __future__ import annotations

import asyncio

import pytest
from conftest import TOOLS, answer, cli_env
from harness import Harness
from intermission.cli import app
from intermission.service import Sealer
from intermission.service.runs.keys import claim_key, journal_claim_key
from intermission_schemas import RunCompleted
from realservices.plugin import S3Bucket
from typer.testing import CliRunner, Result

pytestmark = [pytest.mark.kafka, pytest.mark.s3]


async def _audit(env: dict[str, str], run_id: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, ["runs", "audit", run_id], env=env)


async def _put(harness: Harness, key: str, data: bytes) -> bytes:
    """Replace ``key`` with ``data``; returns what was there."""
    stored = await harness.backend.store.get(key)
    assert stored is not None
    await harness.backend.store.replace(key, data, stored.etag)
    return stored.data


async def test_runs_audit_reports_a_rollback_and_a_keyless_reseal(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    env = cli_env(s3_bucket, harness.backend.bootstrap, harness.backend.topics)
    worker = await harness.start_worker()
    try:
        await harness.submit("audited", "order 3", tools=TOOLS)
        await harness.approval("audited")
        await answer(harness, "audited", "S", "alice")
        await harness.result("audited", RunCompleted)
    finally:
        await worker.stop()
    intact = await _audit(env, "audited")
    assert intact.exit_code == 0, intact.output
    assert "audit: intact" in intact.output

    # The pause was never rewritten (its answer created its claim): what can be undone is the
    # claim, and without it the pause reads pending under its stored next step.
    claim = await harness.backend.store.get(claim_key("audited", 1))
    assert claim is not None
    await harness.backend.store.delete(claim_key("audited", 1))
    rolled_back = await _audit(env, "audited")
    assert rolled_back.exit_code == 1, rolled_back.output
    assert "audit: BROKEN" in rolled_back.output
    assert "rolled back" in " ".join(rolled_back.output.split())
    await harness.backend.store.create(claim_key("audited", 1), claim.data)

    # The first step's claim holds its first model reply, which a redone step reads back.
    model = journal_claim_key("audited", 0)
    stored = await harness.backend.store.get(model)
    assert stored is not None
    body = Sealer(b"test-key").open(model, stored.data)
    await _put(harness, model, Sealer(None).seal(model, body))
    resealed = await _audit(env, "audited")
    assert resealed.exit_code == 1, resealed.output
    assert "does not match its seal" in " ".join(resealed.output.split())
