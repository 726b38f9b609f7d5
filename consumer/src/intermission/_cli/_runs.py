"""`intermission runs list|show|history|audit|fork`: stored runs, read from the bucket.

Listing reads the run index (``index/{status}/{stamp}/...``), never a run: a page of up to
1,000 runs of one status is one S3 LIST request however many runs are stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

import typer
from rich.table import Table
from rich.text import Text

from ..service.wiring.settings import Settings
from ._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    BootstrapServers,
    as_json,
    console,
    fail,
    kafka_errors,
    load_settings,
    usage_errors,
)
from ._fork_answers import fork_answers

runs_app = typer.Typer(help="Stored runs: list, show, history, audit, fork.", no_args_is_help=True)

T = TypeVar("T")

Bucket = Annotated[
    str | None, typer.Option(help="Snapshot bucket (env INTERMISSION_BUCKET)", show_default=False)
]
Prefix = Annotated[
    str | None, typer.Option(help="Key prefix in the bucket (env INTERMISSION_PREFIX)", show_default=False)
]
Endpoint = Annotated[
    str | None,
    typer.Option(help="S3-compatible endpoint (env INTERMISSION_S3_ENDPOINT_URL)", show_default=False),
]


def store_settings(bucket: str | None, prefix: str | None, endpoint: str | None, **more: Any) -> Settings:
    with usage_errors():
        settings = load_settings(bucket=bucket, prefix=prefix, s3_endpoint_url=endpoint, **more)
        settings.require("bucket")
    return settings


def with_store(settings: Settings, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run ``work(store, sealer)`` on the settings' bucket; store failures are one line, exit 1."""
    from ..errors import StoreUnavailableError
    from ..service.wiring.serve import snapshot_store
    from ..stored import Sealer

    async def main() -> T:
        store = snapshot_store(settings)
        try:
            return await work(store, Sealer(settings.seal_secret()))
        finally:
            close = getattr(store, "close", None)
            if close is not None:
                close()

    try:
        return asyncio.run(main())
    except StoreUnavailableError as exc:
        fail(f"S3 bucket {settings.bucket}: {exc}")


def with_runs(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``work(runs)`` with the settings' stored runs (`intermission.stored.StoredRuns`)."""
    from ..stored import StoredRuns

    return with_store(settings, lambda store, sealer: work(StoredRuns(store, sealer)))


def parse_time(text: str | None) -> datetime | None:
    """ISO 8601 (a date alone is midnight UTC); naive times are UTC."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        fail(f"not an ISO time: {text!r}", EXIT_USAGE)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_tags(tags: list[str] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for tag in tags or []:
        key, sep, value = tag.partition("=")
        if not sep:
            fail(f"a tag is key=value, not {tag!r}", EXIT_USAGE)
        found[key] = value
    return found


@runs_app.command("list")
def list_runs(
    status: Annotated[
        str | None, typer.Option(help="pending, completed, failed or expired", show_default=False)
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Entered the status at or after (ISO time)", show_default=False)
    ] = None,
    until: Annotated[str | None, typer.Option(help="... and before (ISO time)", show_default=False)] = None,
    tag: Annotated[list[str] | None, typer.Option(help="key=value; repeat for more")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Runs per page")] = 50,
    after: Annotated[
        str | None, typer.Option(help="The cursor printed under the previous page", show_default=False)
    ] = None,
    json_lines: Annotated[bool, typer.Option("--jsonl", help="One JSON object a line")] = False,
    bucket: Bucket = None,
    prefix: Prefix = None,
    s3_endpoint_url: Endpoint = None,
) -> None:
    """List stored runs from the run index, oldest first per status, one page at a time."""
    from ..stored import STATUSES, RunPage, StoredRuns

    if status is not None and status not in STATUSES:
        fail(f"--status is one of {', '.join(STATUSES)}", EXIT_USAGE)
    settings = store_settings(bucket, prefix, s3_endpoint_url)

    async def work(runs: StoredRuns) -> RunPage:
        return await runs.list(
            status=cast(Any, status),
            since=parse_time(since),
            until=parse_time(until),
            tags=parse_tags(tag),
            after=after or "",
            limit=limit,
        )

    with usage_errors():  # no run index written: say which setting writes it
        page = with_runs(settings, work)
    if json_lines:
        for entry in page.runs:
            record = {"runId": entry.run_id, "status": entry.status, "at": entry.at.isoformat()}
            typer.echo(json.dumps(record))
        if page.next_cursor:
            typer.echo(json.dumps({"nextCursor": page.next_cursor}))
        return
    table = Table(title=f"{len(page.runs)} run(s)", title_justify="left")
    for column in ("run id", "status", "since", "pause"):
        table.add_column(column)
    for entry in page.runs:
        pause = str(entry.version) if entry.status == "pending" else ""
        table.add_row(entry.run_id, entry.status, entry.at.isoformat(timespec="seconds"), pause)
    console.print(table)
    if page.next_cursor:
        console.print(f"next page: --after {page.next_cursor}", soft_wrap=True)


def _load(settings: Settings, run_id: str) -> Any:
    async def work(runs: Any) -> Any:
        return await runs.load(run_id), await runs.audit(run_id)

    return with_runs(settings, work)


@runs_app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="The run")],
    bucket: Bucket = None,
    prefix: Prefix = None,
    s3_endpoint_url: Endpoint = None,
) -> None:
    """Each step of a run: its questions, who answered what and when, the result, the audit."""
    settings = store_settings(bucket, prefix, s3_endpoint_url)
    run, audit = _load(settings, run_id)
    if not run.snapshots and run.result is None:
        fail(f"no stored run {run_id!r}")
    console.print(Text(f"run {run_id}: {run.status}", style="bold"))
    if audit.forked_from:
        console.print(f"forked from {audit.forked_from}", soft_wrap=True)
    steps = Table(title="steps", title_justify="left")
    columns = ("pause", "status", "paused at", "question", "input", "answer", "answered by", "resumed at")
    for column in columns:
        steps.add_column(column)
    # Answers carry no time of their own: a pause was answered by the time its next step was
    # stored (the next pause's creation, or the result's finish).
    ends = [s.created_at for s in run.snapshots[1:]]
    if run.snapshots:  # a run that ended in its first step has no pause to have answered
        ends.append(run.result.finished_at if run.result is not None else None)
    for snapshot, resumed_at in zip(run.snapshots, ends, strict=True):
        for part in snapshot.paused.interrupts:
            ref = part.tool_request.ref or ""
            answer = snapshot.answers.get(ref)
            given = ""
            if answer is not None:
                given = (
                    as_json(answer.respond.output)
                    if answer.respond is not None
                    else f"restart {as_json(answer.restart.resumed if answer.restart else None)}"
                )
            steps.add_row(
                str(snapshot.snapshot_version),
                snapshot.status,
                snapshot.created_at.isoformat(timespec="seconds"),
                f"{part.tool_request.name} ({ref})",
                as_json(part.tool_request.input),
                given if answer is not None else "(pending)",
                answer.answered_by if answer is not None else "",
                resumed_at.isoformat(timespec="seconds") if resumed_at is not None else "",
            )
    console.print(steps)
    if run.result is not None:
        end = run.result.completed
        detail = getattr(end, "text", None) or f"{getattr(end, 'code', '')}: {getattr(end, 'message', '')}"
        finished = run.result.finished_at.isoformat(timespec="seconds") if run.result.finished_at else ""
        console.print(f"result: {type(end).__name__} {finished}\n{detail}", soft_wrap=True)
        if getattr(end, "output", None) is not None:
            console.print(f"output: {as_json(end.output)}", soft_wrap=True)
    _print_audit(audit)


def _print_audit(audit: Any) -> None:
    table = Table(title=f"audit: {'intact' if audit.intact else 'BROKEN'}", title_justify="left")
    for column in ("step", "status", "sha256", "parent"):
        table.add_column(column)
    if audit.forked_from:
        table.add_row("fork of", audit.forked_from, "", "")
    for step in audit.steps:
        table.add_row(
            str(step.version) if step.version else "result",
            step.status,
            step.sha256[:16],
            (step.parent_sha256 or "")[:16],
        )
    console.print(table)
    if audit.problem:
        console.print(Text(f"problem: {audit.problem}", style="red"), soft_wrap=True)


@runs_app.command()
def history(
    run_id: Annotated[str, typer.Argument(help="The run")],
    bucket: Bucket = None,
    prefix: Prefix = None,
    s3_endpoint_url: Endpoint = None,
) -> None:
    """The run's messages as stored (the result's, else the last pause's), for a terminal."""
    from intermission_schemas import TextPart, ToolRequestPart, ToolResponsePart

    settings = store_settings(bucket, prefix, s3_endpoint_url)
    run, _ = _load(settings, run_id)
    if not run.messages:
        fail(f"no stored history for run {run_id!r}")
    for message in run.messages:
        console.print(Text(f"── {message.role}", style="bold cyan"))
        for part in message.content:
            if isinstance(part, TextPart):
                console.print(part.text, soft_wrap=True)
            elif isinstance(part, ToolRequestPart):
                request = part.tool_request
                mark = " (interrupt)" if part.interrupt is not None else ""
                console.print(
                    f"→ {request.name}{mark} [{request.ref}] {as_json(request.input)}", soft_wrap=True
                )
            elif isinstance(part, ToolResponsePart):
                response = part.tool_response
                console.print(
                    f"← {response.name} [{response.ref}] {as_json(response.output)}", soft_wrap=True
                )
            else:
                console.print(f"({type(part).__name__})")


@runs_app.command()
def audit(
    run_id: Annotated[str, typer.Argument(help="The run")],
    bucket: Bucket = None,
    prefix: Prefix = None,
    s3_endpoint_url: Endpoint = None,
) -> None:
    """Check every stored object's seal (journal entries too), each step's parent link, and for
    rolled-back pauses, as the worker does; exit 1 when anything is wrong."""
    settings = store_settings(bucket, prefix, s3_endpoint_url)
    result = with_runs(settings, lambda runs: runs.audit(run_id))
    _print_audit(result)
    if not result.intact:
        raise typer.Exit(EXIT_FAILED)


@runs_app.command()
def fork(
    run_id: Annotated[str, typer.Argument(help="The run to fork")],
    from_version: Annotated[int, typer.Option("--from", min=1, help="The pause to fork from")],
    approve: Annotated[
        list[str] | None,
        typer.Option(help='REF: run the paused tool (ctx.resumed = {"status": "APPROVED"}); repeat for more'),
    ] = None,
    input: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            help="JSON: the input an approved tool runs with instead (REF=JSON with several --approve)",
        ),
    ] = None,
    deny: Annotated[
        list[str] | None,
        typer.Option(help='REF: restart the tool with ctx.resumed = {"status": "REJECTED"}; repeat'),
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Why, for --deny (ctx.resumed.reason)", show_default=False)
    ] = None,
    respond: Annotated[
        list[str] | None,
        typer.Option(
            "--respond",
            "--answer",
            help="REF=VALUE (JSON or text): the tool's output, given instead of running it; repeat",
        ),
    ] = None,
    answered_by: Annotated[str, typer.Option(help="Who answers")] = "cli",
    new_run_id: Annotated[str | None, typer.Option(help="The fork's run id", show_default=False)] = None,
    bootstrap_servers: BootstrapServers = None,
    bucket: Bucket = None,
    prefix: Prefix = None,
    s3_endpoint_url: Endpoint = None,
) -> None:
    """A new run from a stored pause, chained to its parent and published like any pause; with
    answers (--approve [--input], --deny [--reason], --respond), resumed at once with them, each
    checked against the tool's schemas as a live answer is, before anything is stored."""
    from intermission_producer import AnswerError, KafkaTransport

    from ..replay import Fork, fork_run
    from ..service.wiring.compose import load_app

    settings = store_settings(bucket, prefix, s3_endpoint_url, bootstrap_servers=bootstrap_servers)
    with usage_errors():
        settings.require("bootstrap_servers")
        ai = load_app(settings.app)
        tokens = settings.resume_tokens()
    answers = fork_answers(approve or [], input or [], deny or [], reason, respond or [])

    async def work(store: Any, sealer: Any) -> Fork:
        assert settings.bootstrap_servers is not None
        async with KafkaTransport(
            settings.bootstrap_servers, security=settings.kafka_security()
        ) as transport:
            return await fork_run(
                ai=ai,
                store=store,
                sealer=sealer,
                transport=transport,
                topics=settings.topics,
                run_id=run_id,
                version=from_version,
                new_run_id=new_run_id,
                respond=answers.respond or None,
                restart=answers.restart or None,
                replace_input=answers.replace_input or None,
                answered_by=answered_by,
                tokens=tokens,
                run_index=settings.run_index,
            )

    try:
        with usage_errors(), kafka_errors(settings):
            made = with_store(settings, work)
    except AnswerError as exc:
        where = f", field {exc.field!r}" if exc.field else ""
        fail(f"not forked: the answer to {exc.ref}{where} is invalid: {exc.detail}", EXIT_USAGE)
    console.print(f"forked {made.parent} as run {made.run_id}", soft_wrap=True)
    for pending in made.raised.interrupts:
        console.print(f"  pause 1: {pending.tool} ({pending.ref}) {as_json(pending.input)}", soft_wrap=True)
    if made.resumes:
        console.print(f"answered {sum(len(r.respond) + len(r.restart) for r in made.resumes)} question(s)")
