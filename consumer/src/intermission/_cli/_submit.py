"""`intermission submit`: publish a GenerateRequest, and optionally wait for its result."""

from __future__ import annotations

import asyncio
import json
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast

import msgspec
import typer
from intermission_schemas import (
    EventDecodeError,
    GenerateRequest,
    InterruptRaised,
    Message,
    RunCompleted,
    RunFailed,
    TextPart,
    decode_request,
)
from rich.table import Table

from ..service.wiring.settings import Settings
from ._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    BootstrapServers,
    TopicRequests,
    TopicResults,
    as_json,
    console,
    fail,
    kafka_errors,
    load_settings,
    producer_client,
    usage_errors,
)


class Until(StrEnum):
    """What ``submit --wait`` waits for."""

    pause = "pause"
    result = "result"


def submit(
    run_id: Annotated[
        str | None, typer.Option(help="Run id (default: from --file, else a new one).", show_default=False)
    ] = None,
    prompt_text: Annotated[
        str | None, typer.Option(help="The user message to send.", show_default=False)
    ] = None,
    tool: Annotated[
        list[str] | None, typer.Option(help="A tool of the worker's registry; repeat for more.")
    ] = None,
    system: Annotated[str | None, typer.Option(help="A system instruction.", show_default=False)] = None,
    wait: Annotated[
        float | None,
        typer.Option(min=0, help="Wait this many seconds for the result and print it.", show_default=False),
    ] = None,
    until: Annotated[
        Until,
        typer.Option(
            help="With --wait: stop at the first pause and say what waits for whom (pause), "
            "or wait through pauses for the result (result).",
        ),
    ] = Until.pause,
    file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="A GenerateRequest as JSON (camelCase, as on the wire)."
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(min=0.001, help="With a .jsonl --file: at most this many requests a second"),
    ] = None,
    bootstrap_servers: BootstrapServers = None,
    topic_requests: TopicRequests = None,
    topic_results: TopicResults = None,
) -> None:
    """Publish a GenerateRequest built from the flags (or read from --file); a .jsonl --file
    holds one request a line, all checked before the first is sent."""
    with usage_errors():
        settings = load_settings(
            bootstrap_servers=bootstrap_servers, topic_requests=topic_requests, topic_results=topic_results
        )
        settings.require("bootstrap_servers")
        if file is not None and file.suffix == ".jsonl":
            if run_id or prompt_text or tool or system or wait is not None:
                fail(
                    "a .jsonl --file takes no --run-id, --prompt-text, --tool, --system or --wait", EXIT_USAGE
                )
            _submit_batch(settings, file, rate)
            return
        if rate is not None:
            fail("--rate applies to a .jsonl --file", EXIT_USAGE)
        request = _request(run_id, prompt_text, tool or [], system, file)
        with kafka_errors(settings):
            final = asyncio.run(_publish(settings, request, wait, until))
    if isinstance(final, InterruptRaised):
        _print_pause(final, request, settings)
    elif final is not None:
        _print_result(final)


def _submit_batch(settings: Settings, file: Path, rate: float | None) -> None:
    from rich.progress import Progress

    from ..replay import load_requests, submit_many

    requests = load_requests(file)

    async def main() -> int:
        async with producer_client(settings) as client:
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task(f"submitting {file.name}", total=len(requests))
                return await submit_many(
                    client, requests, rate=rate, on_sent=lambda _request: progress.advance(task)
                )

    with kafka_errors(settings):
        sent = asyncio.run(main())
    console.print(f"submitted {sent} of {len(requests)} request(s) to {settings.topics.requests}")


def _request(
    run_id: str | None, text: str | None, tools: list[str], system: str | None, file: Path | None
) -> GenerateRequest:
    if file is not None:
        if text is not None:
            fail("give either --file or --prompt-text, not both", EXIT_USAGE)
        return _load_request(file, run_id, tools, system)
    if text is None:
        fail("give --prompt-text (or --file with a GenerateRequest)", EXIT_USAGE)
    run_id = run_id or f"cli-{uuid.uuid4().hex[:12]}"
    return GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,  # re-running the same command is then a no-op on the service
        messages=[Message(role="user", content=[TextPart(text)])],
        tools=tools,
        system=system,
    )


def _load_request(file: Path, run_id: str | None, tools: list[str], system: str | None) -> GenerateRequest:
    """The file's request; a flag given on the command line wins over the file's field."""
    try:
        fields: Any = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        fail(f"{file}: not JSON: {exc}", EXIT_USAGE)
    if not isinstance(fields, dict):
        fail(f"{file}: expected a JSON object (a GenerateRequest)", EXIT_USAGE)
    # Hand-written files need not carry the wire's event tag, nor an idempotency key.
    fields.setdefault("type", "GenerateRequest")
    overrides = {"runId": run_id, "tools": tools or None, "system": system}
    fields.update({key: value for key, value in overrides.items() if value is not None})
    if fields.get("runId"):
        fields.setdefault("idempotencyKey", fields["runId"])
    try:
        return decode_request(msgspec.json.encode(fields))
    except EventDecodeError as exc:
        fail(f"{file}: not a GenerateRequest: {exc.detail}", EXIT_USAGE)


async def _publish(
    settings: Settings, request: GenerateRequest, wait: float | None, until: Until = Until.pause
) -> RunCompleted | RunFailed | InterruptRaised | None:
    from intermission_producer import ResultTimeout

    async with producer_client(settings) as client:
        if wait is None:
            await client.submit(request)
            console.print(f"submitted run {request.run_id} to {settings.topic_requests}")
            return None
        what = "its result" if until is Until.result else "its result or a pause"
        with console.status(f"run {request.run_id}: waiting up to {wait:g} s for {what}…"):
            console.print(
                f"submitted run {request.run_id}; answer its pauses with `intermission approvals`",
                soft_wrap=True,
            )
            finishing = asyncio.ensure_future(client.submit_and_wait(request, timeout=wait))
            waits: set[asyncio.Future[Any]] = {finishing}
            if until is Until.pause:
                waits.add(asyncio.ensure_future(_first_pause(client, request.run_id)))
            try:
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                found: RunCompleted | RunFailed | InterruptRaised = done.pop().result()
            except ResultTimeout as exc:
                fail(f"{exc}; no pause was seen either" if until is Until.pause else str(exc))
            finally:
                for task in waits:
                    task.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        return found


async def _first_pause(client: Any, run_id: str) -> InterruptRaised:
    """The run's first pause on the approvals topic. Read from the beginning, so a pause
    published before the reader got going (or by an earlier submit of this run) is seen."""
    async for raised in client.interrupts(from_beginning=True):
        if raised.run_id == run_id and raised.interrupts:
            return cast(InterruptRaised, raised)
    raise AssertionError("unreachable: the approvals reader iterates until closed")


def _print_pause(raised: InterruptRaised, request: GenerateRequest, settings: Settings) -> None:
    """A pause is not a failure: say what waits, for whom, and where to answer it."""
    table = Table(show_header=False, title="paused, waiting for an answer", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("run id", raised.run_id)
    table.add_row("pause", f"snapshot v{raised.snapshot.version}")
    for interrupt in raised.interrupts:
        if interrupt.ref in raised.answered:
            continue
        said = f"{interrupt.tool} {as_json(interrupt.input)}"
        if interrupt.description:
            said += f" ({interrupt.description})"
        table.add_row(f"waiting: {interrupt.ref}", said)
    table.add_row("for whom", ", ".join(request.approvers) or "anyone who may answer")
    if raised.expires_at is not None:
        table.add_row("expires", raised.expires_at.isoformat(timespec="seconds"))
    inbox = settings.inbox_public_url
    where = f"{inbox.rstrip('/')}/#run-{raised.run_id}" if inbox else "the inbox (`intermission inbox`)"
    table.add_row("answer at", f"{where}, or `intermission approvals`")
    table.add_row("then", f"`intermission submit --run-id {raised.run_id} ... --wait N --until result`")
    console.print(table, soft_wrap=True)


def _print_result(result: RunCompleted | RunFailed) -> None:
    table = Table(show_header=False, title=type(result).__name__, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("run id", result.run_id)
    if isinstance(result, RunFailed):
        table.add_row("code", result.code)
        table.add_row("message", result.message)
        console.print(table)
        raise typer.Exit(EXIT_FAILED)
    table.add_row("finish reason", result.finish_reason)
    table.add_row("text", result.text)
    if result.output is not None:
        table.add_row("output", as_json(result.output))
    table.add_row("result key", result.result_key)
    console.print(table)
