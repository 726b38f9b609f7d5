"""The `intermission` command line: offline commands in-process, Kafka and S3 ones for real."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from intermission import ScriptedModel
from intermission.cli import app
from intermission_schemas import (
    InterruptRaised,
    PendingInterrupt,
    RestartAnswer,
    SnapshotRef,
    all_json_schemas,
    decode_resume,
    encode,
)
from realservices.kafka import fast_consumer_kwargs
from realservices.plugin import S3Bucket
from realservices.worker_env import worker_environment
from typer.testing import CliRunner, Result

REPO = Path(__file__).resolve().parents[2]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_SETTING_VARIABLES = ("INTERMISSION_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", "INTERMISSION_BUCKET")
_KAFKA_TIMEOUT_S = 90.0

runner = CliRunner()


def plain(text: str) -> str:
    """Output without colour codes: rich colours it when pytest runs in a terminal (-s)."""
    return _ANSI.sub("", text)


def invoke(args: Sequence[str], **kwargs: object) -> Result:
    return runner.invoke(app, list(args), **kwargs)  # type: ignore[arg-type]


def offline_env() -> dict[str, str]:
    """This environment without model keys: the demo's default app picks Gemini if one is set."""
    return {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}


@pytest.fixture
def offline_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo's default app with its scripted model (no key, no network)."""
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    from intermission.service.demo import app as demo_app  # the model is chosen when this is first imported

    if not isinstance(demo_app.ai.model, ScriptedModel):
        pytest.fail("demo_app was imported with a Gemini key set; run the suite without GEMINI_API_KEY")


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in _SETTING_VARIABLES:
        monkeypatch.delenv(variable, raising=False)


# -- demo -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("offline_demo")
def test_demo_approves_and_completes() -> None:
    result = invoke(["demo"])

    out = plain(result.output)
    assert result.exit_code == 0, out
    assert "1. submitted run demo-" in out
    assert "2. paused at snapshot v1" in out
    assert "3. approver answered APPROVED" in out
    assert "4. result: Done. Tool results: [{'status': 'COMPLETED'" in out
    assert "RunCompleted" in out


@pytest.mark.usefixtures("offline_demo")
def test_demo_reject_gives_the_rejection() -> None:
    result = invoke(["demo", "--reject"])

    out = plain(result.output)
    assert result.exit_code == 0, out
    assert "the approver rejects 1 pending interrupt(s)" in out
    assert "3. approver answered REJECTED" in out
    assert "The user rejected the transaction." in out
    assert "'status': 'COMPLETED'" not in out


@pytest.mark.usefixtures("offline_demo")
def test_demo_store_dir_keeps_the_snapshot_and_the_result(tmp_path: Path) -> None:
    store = tmp_path / "store"

    result = invoke(["demo", "--store-dir", str(store)])

    out = plain(result.output)
    assert result.exit_code == 0, out
    run_id = re.search(r"submitted run (demo-\w+)", out)
    assert run_id is not None
    assert f"runs/{run_id[1]}/snapshots/00000001" in out
    assert f"runs/{run_id[1]}/result" in out
    names = sorted(unquote(p.name) for p in (store / "objects").iterdir())
    steps = [n for n in names if n.startswith("runs/") and "/journal/" not in n and "/claims/" not in n]
    assert steps == [f"runs/{run_id[1]}/result", f"runs/{run_id[1]}/snapshots/00000001"]
    # No run index: it is off unless INTERMISSION_RUN_INDEX is set (the cycle's cost).
    assert not [n for n in names if n.startswith("index/")]
    assert len(names) == len(steps) + 3  # and the pause's claim and the two journal entries
    # The journal keeps the first step's claim (with the model reply that asked for the transfer)
    # and the transfer's output; the pause's claim sits beside the pause.
    assert [n.rsplit("/", 2)[-2:] for n in names if "/journal/" in n] == [
        ["00000000", "claim"],
        ["00000001", "tool-transferMoney-1-0"],
    ]
    assert f"runs/{run_id[1]}/claims/00000001" in names


def test_demo_runs_as_a_module_in_a_fresh_process() -> None:
    # What `uv run intermission demo` runs, minus uv: a new interpreter, the real entry point.
    completed = subprocess.run(
        [sys.executable, "-m", "intermission.cli", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env=offline_env(),
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "RunCompleted" in plain(completed.stdout)


# -- worker and topics: settings problems are one line and exit 2 ---------------------------------


@pytest.mark.usefixtures("no_settings")
def test_worker_without_bootstrap_servers_exits_2_naming_the_variable() -> None:
    result = invoke(["worker", "--bucket", "b"])

    assert result.exit_code == 2
    assert result.stderr.strip() == "error: setting INTERMISSION_BOOTSTRAP_SERVERS: is required and not set"
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("no_settings")
def test_worker_without_a_bucket_names_the_bucket_variable() -> None:
    result = invoke(["worker", "--bootstrap-servers", "127.0.0.1:9"])

    assert result.exit_code == 2
    assert "INTERMISSION_BUCKET" in result.stderr


@pytest.mark.usefixtures("no_settings")
def test_worker_with_an_invalid_setting_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTERMISSION_MAX_IN_FLIGHT", "many")

    result = invoke(["worker"])

    assert result.exit_code == 2
    assert result.stderr.startswith("error: setting INTERMISSION_MAX_IN_FLIGHT:")


@pytest.mark.usefixtures("no_settings")
def test_worker_with_an_unloadable_app_exits_2_before_connecting() -> None:
    result = invoke(["worker", "--bootstrap-servers", "127.0.0.1:9", "--bucket", "b", "--app", "nowhere:ai"])

    assert result.exit_code == 2
    assert "INTERMISSION_APP" in result.stderr


@pytest.mark.usefixtures("no_settings")
def test_topics_create_without_bootstrap_servers_exits_2() -> None:
    result = invoke(["topics", "create"])

    assert result.exit_code == 2
    assert "INTERMISSION_BOOTSTRAP_SERVERS" in result.stderr


# -- submit: the request is checked before anything connects --------------------------------------


@pytest.mark.usefixtures("no_settings")
def test_submit_without_bootstrap_servers_exits_2() -> None:
    result = invoke(["submit", "--prompt-text", "hi"])

    assert result.exit_code == 2
    assert "INTERMISSION_BOOTSTRAP_SERVERS" in result.stderr


def test_submit_needs_a_prompt_or_a_file() -> None:
    result = invoke(["submit", "--bootstrap-servers", "127.0.0.1:9"])

    assert result.exit_code == 2
    assert "--prompt-text" in result.stderr


def test_submit_file_with_a_wrong_field_names_it(tmp_path: Path) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"runId": "r1", "maxTurns": "five"}))

    result = invoke(["submit", "--bootstrap-servers", "127.0.0.1:9", "--file", str(request)])

    assert result.exit_code == 2
    assert "maxTurns" in result.stderr


# -- schemas export -------------------------------------------------------------------------------


def test_schemas_export_writes_every_schema_and_the_asyncapi_document(tmp_path: Path) -> None:
    result = invoke(["schemas", "export", str(tmp_path / "out")])

    assert result.exit_code == 0, result.output
    written = {path.name: json.loads(path.read_text()) for path in (tmp_path / "out").iterdir()}
    assert set(written) == {f"{name}.json" for name in all_json_schemas()} | {"asyncapi.json"}
    assert written["asyncapi.json"]["asyncapi"] == "3.0.0"
    assert written["GenerateRequest.json"] == all_json_schemas()["GenerateRequest"]


def test_committed_schemas_match_a_fresh_export(tmp_path: Path) -> None:
    assert invoke(["schemas", "export", str(tmp_path)]).exit_code == 0
    committed = REPO / "schemas" / "jsonschema"

    fresh = {path.name: path.read_text() for path in tmp_path.iterdir()}
    stale = {path.name: path.read_text() for path in committed.glob("*.json")}

    assert stale == fresh, "regenerate: uv run intermission schemas export schemas/jsonschema"


# -- against real Kafka (and S3) -------------------------------------------------------------------


def _topic_env(prefix: str) -> dict[str, str]:
    names = ("requests", "approvals", "resumes", "results", "dead_letter")
    return {f"INTERMISSION_TOPIC_{name.upper()}": f"{prefix}{name.replace('_', '-')}" for name in names}


async def _cli(args: Sequence[str], env: dict[str, str], within: float = _KAFKA_TIMEOUT_S) -> tuple[int, str]:
    """Run the command in a new process; killed, not left behind, if it outlives ``within`` s."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "intermission.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
        pytest.fail(f"`intermission {' '.join(args)}` still running after {within} s:\n{output.decode()}")
    assert process.returncode is not None
    return process.returncode, plain(output.decode())


async def _create_topics(env: dict[str, str]) -> None:
    code, output = await _cli(["topics", "create", "--partitions", "2"], env)
    assert code == 0, output


def _interrupt_raised(run_id: str) -> InterruptRaised:
    return InterruptRaised(
        run_id=run_id,
        snapshot=SnapshotRef(key=f"runs/{run_id}/snapshots/00000001", version=1, sha256="0" * 64),
        interrupts=[
            PendingInterrupt(
                ref="transferMoney-1-0",
                tool="transferMoney",
                input={"toAccountId": "ABC123", "amount": 100000},
                metadata={"message": "Please confirm sending an amount > $100."},
                restartable=True,
            )
        ],
        created_at=datetime.now(UTC),
    )


async def _first_record(bootstrap: str, topic: str) -> bytes:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **fast_consumer_kwargs())
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), _KAFKA_TIMEOUT_S)
    finally:
        await consumer.stop()
    value: bytes = record.value
    return value


@pytest.mark.kafka
async def test_approvals_auto_approve_answers_a_raised_interrupt(
    kafka_bootstrap: str, kafka_topic_prefix: str
) -> None:
    env = {
        **offline_env(),
        "INTERMISSION_BOOTSTRAP_SERVERS": kafka_bootstrap,
        **_topic_env(kafka_topic_prefix),
    }
    await _create_topics(env)
    raised = _interrupt_raised("cli-approvals-1")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(
            env["INTERMISSION_TOPIC_APPROVALS"], encode(raised), key=b"cli-approvals-1"
        )
    finally:
        await producer.stop()

    code, output = await _cli(
        ["approvals", "--from-beginning", "--auto", "approve", "--limit", "1", "--answered-by", "test-bot"],
        env,
    )

    assert code == 0, output
    assert "transferMoney-1-0" in output
    assert "answered 1 interrupt(s)" in output
    resume = decode_resume(await _first_record(kafka_bootstrap, env["INTERMISSION_TOPIC_RESUMES"]))
    assert resume.run_id == "cli-approvals-1"
    assert resume.snapshot_version == 1
    assert resume.answered_by == "test-bot"
    assert resume.respond == []
    assert resume.restart == [RestartAnswer(ref="transferMoney-1-0", resumed={"status": "APPROVED"})]


@pytest.mark.kafka
@pytest.mark.s3
async def test_submit_wait_reports_a_pause_as_a_pause(
    worker_env: dict[str, str], worker: subprocess.Popen[bytes]
) -> None:
    code, output = await _cli(
        [
            *("submit", "--run-id", "cli-pause-1", "--prompt-text", "Transfer $1000 to ABC123"),
            *("--tool", "transferMoney", "--wait", "60"),
        ],
        {**worker_env, "INTERMISSION_INBOX_PUBLIC_URL": "https://inbox.example"},
    )
    assert code == 0, output
    assert "paused, waiting for an answer" in output
    assert "transferMoney" in output
    assert "100000" in output
    assert "https://inbox.example/#run-cli-pause-1" in output
    assert "no result" not in output


@pytest.fixture
def worker_env(kafka_bootstrap: str, kafka_topic_prefix: str, s3_bucket: S3Bucket) -> dict[str, str]:
    return {
        **worker_environment(kafka_bootstrap, f"{kafka_topic_prefix}workers", s3_bucket),
        **_topic_env(kafka_topic_prefix),
    }


@pytest.fixture
def worker_log(tmp_path: Path) -> Path:
    # A file, not a pipe: nobody reads a pipe while the test runs, and a full one blocks the worker.
    return tmp_path / "worker.log"


@pytest.fixture
def worker(worker_env: dict[str, str], worker_log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`intermission worker` in its own process; always stopped, even if the test fails.

    The topics are created first: a worker checks them at start and refuses to serve without."""
    created = subprocess.run(
        [sys.executable, "-m", "intermission.cli", "topics", "create", "--partitions", "2"],
        env=worker_env,
        capture_output=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr.decode()[-2000:]
    with worker_log.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "intermission.cli", "worker"], env=worker_env, stdout=log, stderr=log
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.kafka
@pytest.mark.s3
async def test_submit_approvals_and_worker_run_the_whole_flow_then_the_worker_stops_on_sigterm(
    worker_env: dict[str, str], worker: subprocess.Popen[bytes], worker_log: Path
) -> None:
    submit = asyncio.create_task(
        _cli(
            [
                *("submit", "--run-id", "cli-flow-1", "--prompt-text", "Transfer $1000 to ABC123"),
                *("--tool", "transferMoney", "--wait", "60", "--until", "result"),
            ],
            worker_env,
        )
    )
    approve = asyncio.create_task(
        _cli(["approvals", "--from-beginning", "--auto", "approve", "--limit", "1"], worker_env)
    )

    (submit_code, submitted), (approve_code, approved) = await asyncio.gather(submit, approve)

    assert approve_code == 0, approved
    assert submit_code == 0, submitted
    assert "RunCompleted" in submitted
    assert "Sent 100000 cents to ABC123" in submitted
    worker.send_signal(signal.SIGTERM)
    returncode = await asyncio.to_thread(worker.wait, 30)
    worker_output = await asyncio.to_thread(worker_log.read_text)
    assert returncode == 0, worker_output
    assert "SIGTERM received" in worker_output
    assert "worker stopped" in worker_output


@pytest.mark.kafka
@pytest.mark.s3
async def test_approvals_shows_what_is_pending_now_and_reports_each_verdict(
    worker_env: dict[str, str], worker: subprocess.Popen[bytes]
) -> None:
    """Raised before the command started: shown. Answered already: not shown. A rejected
    answer is reported with the service's reason; an accepted one as accepted."""
    from intermission_producer import GenerateRequest, IntermissionClient, RunCompleted, Topics
    from intermission_schemas import Message, TextPart

    await _create_topics(worker_env)
    topics = Topics(
        requests=worker_env["INTERMISSION_TOPIC_REQUESTS"],
        approvals=worker_env["INTERMISSION_TOPIC_APPROVALS"],
        resumes=worker_env["INTERMISSION_TOPIC_RESUMES"],
        results=worker_env["INTERMISSION_TOPIC_RESULTS"],
        dead_letter=worker_env["INTERMISSION_TOPIC_DEAD_LETTER"],
    )

    def request(run_id: str, **fields: object) -> GenerateRequest:
        text = [Message(role="user", content=[TextPart(text="Transfer $1000 to ABC123")])]
        return GenerateRequest(
            run_id=run_id, idempotency_key=run_id, messages=text, tools=["transferMoney"], **fields
        )  # type: ignore[arg-type]

    async def paused(client: IntermissionClient, run_id: str) -> InterruptRaised:
        async with asyncio.timeout(60):
            async for raised in client.interrupts(from_beginning=True):
                if raised.run_id == run_id:
                    return raised
        raise AssertionError("unreachable")

    async with IntermissionClient(worker_env["INTERMISSION_BOOTSTRAP_SERVERS"], topics=topics) as client:
        # submit_and_wait reads the results from before it submits: a result published while a
        # reader started afterwards was still positioning would be missed.
        finishing = asyncio.create_task(client.submit_and_wait(request("cli-old"), timeout=60))
        old = await paused(client, "cli-old")
        await client.restart(old, {old.interrupts[0].ref: {"status": "APPROVED"}}, answered_by="alice")
        assert isinstance(await finishing, RunCompleted)
        await client.submit(request("cli-now", approvers=["alice"]))
        await paused(client, "cli-now")

    code, output = await _cli(
        [
            "approvals",
            "--auto",
            "approve",
            "--limit",
            "1",
            "--answered-by",
            "mallory",
            "--verdict-wait",
            "30",
        ],
        worker_env,
    )
    assert code == 0, output
    assert "Pending on run cli-now" in output
    assert "cli-old" not in output
    assert "rejected (unauthorized)" in output

    code, output = await _cli(
        ["approvals", "--auto", "approve", "--limit", "1", "--answered-by", "alice", "--verdict-wait", "30"],
        worker_env,
    )
    assert code == 0, output
    assert "accepted: run cli-now" in output, output
