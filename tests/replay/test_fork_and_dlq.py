"""Forking a run from a pause, and re-driving dead letters, on real Kafka + SeaweedFS."""

from __future__ import annotations

import asyncio
import json

import pytest
import seed_app
from conftest import TOOLS, answer, cli_env
from harness import Harness, RealBackend
from intermission.cli import app
from intermission.replay import FORKED_FROM, load_run
from intermission.service import Sealer, audit_run
from intermission_schemas import RunCompleted
from realservices.plugin import S3Bucket
from typer.testing import CliRunner, Result

pytestmark = [pytest.mark.kafka, pytest.mark.s3]


async def cli(env: dict[str, str], *args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


def flat(result: Result) -> str:
    return " ".join(result.output.split())


async def test_a_fork_of_the_first_pause_with_another_answer_completes_differently(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    worker = await harness.start_worker(run_index=True)
    env = cli_env(s3_bucket, harness.backend.bootstrap, harness.backend.topics)
    env["INTERMISSION_RUN_INDEX"] = "true"  # listed, as its workers list their runs
    env["INTERMISSION_RESUME_TOKEN_SECRET"] = "fork-token-secret"  # the CLI mints as workers do
    try:
        await harness.submit("parent", "order 3", tools=TOOLS)
        ref = (await harness.approval("parent")).interrupts[0].ref
        await answer(harness, "parent", "S", "alice")
        parent_end = await harness.result("parent", RunCompleted)
        assert parent_end.text == "Ordered size S for 13 EUR."

        forked = await cli(
            env, "runs", "fork", "parent", "--from", "1", "--answer", f"{ref}=XL",
            "--answered-by", "carol", "--new-run-id", "parent.fork",
        )  # fmt: skip
        assert forked.exit_code == 0, forked.output
        assert "forked parent@1 as run parent.fork" in flat(forked)
        # Published like any pause: approvers see it on the approvals topic.
        raised = await harness.approval("parent.fork")
        assert raised.tags[FORKED_FROM] == "parent@1"
        assert all(pending.token for pending in raised.interrupts)
        fork_end = await harness.result("parent.fork", RunCompleted)
        assert fork_end.text == "Ordered size XL for 13 EUR."
    finally:
        await worker.stop()

    sealer = Sealer(b"test-key")
    fork_run = await load_run(harness.backend.store, sealer, "parent.fork")
    assert [(a.answered_by, a.respond) for a in fork_run.answers()] == [("carol", "XL")]
    parent_audit, fork_audit = await asyncio.gather(
        audit_run(harness.backend.store, sealer, "parent"),
        audit_run(harness.backend.store, sealer, "parent.fork"),
    )
    assert parent_audit.intact, parent_audit.problem
    assert fork_audit.intact, fork_audit.problem
    assert fork_audit.forked_from == "parent@1"
    # The fork's first step names the parent's first pause as its parent.
    assert fork_audit.steps[0].parent_sha256 == parent_audit.steps[0].sha256
    for run_id in ("parent", "parent.fork"):
        audited = await cli(env, "runs", "audit", run_id)
        assert audited.exit_code == 0, audited.output
        assert "audit: intact" in audited.output
    shown = await cli(env, "runs", "show", "parent.fork")
    assert shown.exit_code == 0, shown.output
    assert "forked from parent@1" in flat(shown)
    assert "carol" in shown.output
    history = await cli(env, "runs", "history", "parent.fork")
    assert "Ordered size XL for 13 EUR." in history.output
    listed = await cli(env, "runs", "list", "--status", "completed", "--jsonl")
    assert {json.loads(line)["runId"] for line in listed.output.splitlines()} == {"parent", "parent.fork"}


async def test_dead_letters_of_three_kinds_are_listed_and_one_fixed_is_redriven(
    harness: Harness, s3_bucket: S3Bucket
) -> None:
    topics = harness.backend.topics
    env = cli_env(s3_bucket, harness.backend.bootstrap, topics)
    worker = await harness.start_worker()
    try:
        await harness.backend.publish_raw(topics.requests, "junk", b"\xff\xfe not json")
        await harness.backend.publish_raw(topics.requests, "ghost", b'{"type": "Teleport", "runId": "ghost"}')
        broken = {
            "type": "GenerateRequest",
            "runId": "fixme",
            "idempotencyKey": "fixme",
            "messages": [{"role": "user", "content": [{"text": "order 7"}]}],
            "tools": TOOLS,
            "maxTurns": "five",  # not an integer
        }
        await harness.backend.publish_raw(topics.requests, "fixme", json.dumps(broken).encode())
        await harness.wait_for(lambda: len(harness.dead_letters) >= 3)

        listed = await cli(env, "dlq", "list")
        assert listed.exit_code == 0, listed.output
        text = flat(listed)
        assert "3 dead letter(s)" in text
        for reason in ("undecodable", "unknown_event", "invalid_fields"):
            assert reason in text
        only = await cli(env, "dlq", "list", "--reason", "invalid_fields", "--jsonl")
        assert only.exit_code == 0, only.output
        [letter] = [json.loads(line) for line in only.output.splitlines()]
        assert (letter["reason"], letter["topic"], letter["key"]) == (
            "invalid_fields",
            topics.requests,
            "fixme",
        )
        letter_id = letter["id"]
        shown = await cli(env, "dlq", "show", letter_id)
        assert shown.exit_code == 0, shown.output
        assert '"maxTurns": "five"' in shown.output

        dry = await cli(env, "dlq", "redrive", letter_id, "--set", "maxTurns=5", "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert "would send" in dry.output
        # Issue 19 (3): the dry run shows the exact bytes the re-drive sends, the edit applied.
        sent = json.dumps({**broken, "maxTurns": 5}, ensure_ascii=False)
        assert sent in dry.output.splitlines(), dry.output
        await asyncio.sleep(1)
        assert not [a for a in harness.approvals if a.run_id == "fixme"]  # nothing was sent

        fixed = await cli(env, "dlq", "redrive", letter_id, "--set", "maxTurns=5")
        assert fixed.exit_code == 0, fixed.output
        assert f"{letter_id} -> {topics.requests}: sent" in flat(fixed)
        await answer(harness, "fixme", "M", "dave")
        end = await harness.result("fixme", RunCompleted)
        assert end.text == "Ordered size M for 17 EUR."
    finally:
        await worker.stop()


async def test_a_fork_approves_denies_or_replaces_the_input_of_a_gated_tool(
    real: RealBackend, s3_bucket: S3Bucket
) -> None:
    # Issue 19 (2): fork could only respond, so `--answer ref={"status": "APPROVED"}` became the
    # tool's output and the tool never ran. It now speaks the engine's answer kinds.
    harness = Harness(real, seed_app.ai)
    await harness.watch()
    worker = await harness.start_worker()
    env = {**cli_env(s3_bucket, real.bootstrap, real.topics), "INTERMISSION_APP": "seed_app:ai"}
    try:
        await harness.submit("gated", "transfer order 5", tools=["transferMoney"])
        ref = (await harness.approval("gated")).interrupts[0].ref

        async def fork(name: str, *answers: str) -> Result:
            return await cli(env, "runs", "fork", "gated", "--from", "1", "--new-run-id", name, *answers)

        cases = {
            "gated.approve": (["--approve", ref], "{'status': 'OK', 'message': 'sent 700 to ACC5'}"),
            "gated.input": (
                ["--approve", ref, "--input", '{"toAccountId": "ACC5", "amount": 50}'],
                "{'status': 'OK', 'message': 'sent 50 to ACC5'}",
            ),
            "gated.deny": (
                ["--deny", ref, "--reason", "too much"],
                "{'status': 'REJECTED', 'message': 'declined'}",
            ),
        }
        for name, (answers, _) in cases.items():
            forked = await fork(name, *answers, "--answered-by", "carol")
            assert forked.exit_code == 0, forked.output
        for name, (_, text) in cases.items():
            end = await harness.result(name, RunCompleted)
            assert end.text == f"Done: {text}"

        # Checked as a live answer is, before anything is stored or sent.
        bad_input = await fork(
            "gated.bad-input", "--approve", ref, "--input", '{"toAccountId": "A", "amount": "x"}'
        )
        assert bad_input.exit_code == 2, bad_input.output
        assert "amount" in flat(bad_input)
        as_output = await fork("gated.as-output", "--respond", f'{ref}={{"status": "APPROVED"}}')
        assert as_output.exit_code == 2, as_output.output
        assert "not forked" in flat(as_output)
        misuse = await fork("gated.misuse", "--input", "{}")
        assert misuse.exit_code == 2
        assert "--input goes with --approve" in flat(misuse)
        for name in ("gated.bad-input", "gated.as-output", "gated.misuse"):
            assert await real.store.list(f"runs/{name}/") == []
    finally:
        await worker.stop()
        await harness.close()
