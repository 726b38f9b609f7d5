"""`intermission dlq list|show|redrive`: the dead-letter topic, read and re-driven."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from ..service.wiring.settings import Settings
from ._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    BootstrapServers,
    TopicDeadLetter,
    console,
    fail,
    kafka_errors,
    load_settings,
    parse_answer,
    usage_errors,
)
from ._runs import parse_time

dlq_app = typer.Typer(help="The dead-letter topic: list, show, re-drive.", no_args_is_help=True)

T = TypeVar("T")

Reason = Annotated[
    list[str] | None,
    typer.Option(
        help="Only this reason (undecodable, unknown_event, invalid_fields, oversized, tampered, poison, ...)"
    ),
]
Since = Annotated[str | None, typer.Option(help="Dead-lettered at or after (ISO time)", show_default=False)]
Until = Annotated[str | None, typer.Option(help="... and before (ISO time)", show_default=False)]


def _settings(bootstrap_servers: str | None, topic_dead_letter: str | None) -> Settings:
    with usage_errors():
        settings = load_settings(bootstrap_servers=bootstrap_servers, topic_dead_letter=topic_dead_letter)
        settings.require("bootstrap_servers")
    return settings


def _on_kafka(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    from intermission_producer import KafkaTransport

    async def main() -> T:
        assert settings.bootstrap_servers is not None
        security = settings.kafka_security()
        async with KafkaTransport(settings.bootstrap_servers, security=security) as transport:
            return await work(transport)

    with kafka_errors(settings):
        return asyncio.run(main())


def _read(settings: Settings, reason: list[str] | None, since: str | None, until: str | None) -> list[Any]:
    from ..replay import read_dead_letters

    start, end = parse_time(since), parse_time(until)
    return _on_kafka(
        settings,
        lambda transport: read_dead_letters(
            transport, settings.topics.dead_letter, reasons=set(reason or []), since=start, until=end
        ),
    )


@dlq_app.command("list")
def list_letters(
    reason: Reason = None,
    since: Since = None,
    until: Until = None,
    json_lines: Annotated[bool, typer.Option("--jsonl", help="One JSON object a line")] = False,
    bootstrap_servers: BootstrapServers = None,
    topic_dead_letter: TopicDeadLetter = None,
) -> None:
    """Every dead letter (oldest first per partition), with its id for `show` and `redrive`."""
    settings = _settings(bootstrap_servers, topic_dead_letter)
    entries = _read(settings, reason, since, until)
    if json_lines:
        for entry in entries:
            letter = entry.letter
            record = {
                "id": entry.id,
                "at": entry.at.isoformat(),
                "reason": letter.reason,
                "topic": letter.topic,
                "partition": letter.partition,
                "offset": letter.offset,
                "key": entry.key,
                "detail": letter.detail,
                "truncated": letter.truncated,
            }
            typer.echo(json.dumps(record, ensure_ascii=False))
        return
    table = Table(
        title=f"{len(entries)} dead letter(s) on {settings.topics.dead_letter}", title_justify="left"
    )
    rows = [
        (e.id, e.letter.reason, e.key, e.at.strftime("%Y-%m-%d %H:%M:%S"), e.letter.detail) for e in entries
    ]
    # The first four are what a user copies or greps: whole, however narrow the terminal.
    for i, column in enumerate(("id", "reason", "key", "at")):
        width = max([len(column), *(len(row[i]) for row in rows)])
        table.add_column(column, no_wrap=True, min_width=width)
    table.add_column("detail (`dlq show ID`)", overflow="ellipsis", no_wrap=True, max_width=40)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@dlq_app.command()
def show(
    letter_id: Annotated[str, typer.Argument(help="PARTITION:OFFSET as `dlq list` prints it")],
    bootstrap_servers: BootstrapServers = None,
    topic_dead_letter: TopicDeadLetter = None,
) -> None:
    """One dead letter in full: where it came from, why, and its value."""
    settings = _settings(bootstrap_servers, topic_dead_letter)
    found = [e for e in _read(settings, None, None, None) if e.id == letter_id]
    if not found:
        fail(f"no dead letter {letter_id}")
    entry = found[0]
    letter = entry.letter
    table = Table(show_header=False, title=f"dead letter {entry.id}", title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for name, value in [
        ("at", entry.at.isoformat()),
        ("reason", letter.reason),
        ("detail", letter.detail),
        ("from", f"{letter.topic} partition {letter.partition} offset {letter.offset}"),
        ("key", entry.key),
        (
            "size",
            f"{letter.value_size or len(letter.value)} bytes{' (truncated)' if letter.truncated else ''}",
        ),
    ]:
        table.add_row(name, value)
    console.print(table)
    try:
        console.print_json(letter.value.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        console.print(repr(letter.value), soft_wrap=True)


@dlq_app.command()
def redrive(
    letter_id: Annotated[list[str] | None, typer.Argument(help="Ids to re-drive (PARTITION:OFFSET)")] = None,
    all_letters: Annotated[
        bool, typer.Option("--all", help="Every dead letter that matches the filters")
    ] = False,
    reason: Reason = None,
    since: Since = None,
    until: Until = None,
    set_field: Annotated[
        list[str] | None,
        typer.Option("--set", help="FIELD=VALUE (JSON or text) set in the JSON value first; dots nest"),
    ] = None,
    value_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Send this file's bytes instead of the value"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the exact bytes each re-drive would send; send nothing")
    ] = False,
    bootstrap_servers: BootstrapServers = None,
    topic_dead_letter: TopicDeadLetter = None,
) -> None:
    """Send selected dead letters back to the topic they came from, optionally edited."""
    from ..replay import DeadLetterEntry, redrive, set_fields

    settings = _settings(bootstrap_servers, topic_dead_letter)
    if not letter_id and not all_letters:
        fail("name the dead letters to re-drive, or give --all (with filters)", EXIT_USAGE)
    if set_field and value_file:
        fail("give either --set or --value-file, not both", EXIT_USAGE)
    entries = _read(settings, reason, since, until)
    if letter_id:
        unknown = set(letter_id) - {e.id for e in entries}
        if unknown:
            fail(f"no dead letter {', '.join(sorted(unknown))} (with these filters)", EXIT_USAGE)
        entries = [e for e in entries if e.id in set(letter_id)]
    edit: Callable[[DeadLetterEntry], bytes] | None = None
    if set_field:
        fields = {}
        for given in set_field:
            name, sep, value = given.partition("=")
            if not sep:
                fail(f"--set takes FIELD=VALUE, not {given!r}", EXIT_USAGE)
            fields[name] = parse_answer(value)
        edit = set_fields(fields)
    elif value_file is not None:
        replacement = value_file.read_bytes()
        edit = lambda _entry: replacement  # noqa: E731
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("re-driving", total=len(entries))

        def advanced(entry: DeadLetterEntry, outcome: str) -> None:
            progress.advance(task)
            progress.console.print(f"{entry.id} -> {entry.letter.topic}: {outcome}", soft_wrap=True)

        def would_send(entry: DeadLetterEntry, value: bytes) -> None:
            # Verbatim, one line, no markup or wrapping: what the topic would get, byte for byte.
            progress.console.print(
                f"{entry.id} would send {len(value)} bytes to {entry.letter.topic} (key {entry.key!r}):",
                soft_wrap=True,
            )
            try:
                shown = Text(value.decode("utf-8"))
            except UnicodeDecodeError:
                shown = Text(repr(value))
            progress.console.print(shown, soft_wrap=True, markup=False, highlight=False)

        counts = _on_kafka(
            settings,
            lambda transport: redrive(
                transport, entries, edit=edit, dry_run=dry_run, on_progress=advanced, on_would_send=would_send
            ),
        )
    summary = Table(title="re-drive" + (" (dry run)" if dry_run else ""), title_justify="left")
    for column in ("selected", "sent", "would send", "edited", "skipped (truncated)", "failed"):
        summary.add_column(column)
    summary.add_row(
        *(
            str(n)
            for n in (
                len(entries),
                counts.sent,
                counts.would_send,
                counts.edited,
                counts.skipped_truncated,
                counts.failed,
            )
        )
    )
    console.print(summary)
    if counts.failed:
        raise typer.Exit(EXIT_FAILED)
