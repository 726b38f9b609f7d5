"""`intermission webhooks` (the dispatcher) and `intermission dlq webhooks list|redrive`."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Annotated, Any

import typer
from rich.table import Table

from ..service.wiring.settings import Settings
from ._common import (
    EXIT_FAILED,
    EXIT_USAGE,
    BootstrapServers,
    console,
    fail,
    kafka_errors,
    load_settings,
    usage_errors,
)
from ._service import _configure_logging, _on_stop_signals

log = logging.getLogger("intermission.webhooks")

webhook_dlq_app = typer.Typer(
    help="Webhooks that could not be delivered: list, deliver again.", no_args_is_help=True
)

WebhooksFile = Annotated[
    str | None,
    typer.Option(
        "--file", help="Subscriptions file, YAML or JSON (env INTERMISSION_WEBHOOKS_FILE)", show_default=False
    ),
]
Subscription = Annotated[
    str | None, typer.Option(help="Only this subscription's letters", show_default=False)
]


def webhooks(
    webhooks_file: WebhooksFile = None,
    bootstrap_servers: BootstrapServers = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
) -> None:
    """POST each InterruptRaised (and subscribed outcomes) to the subscribed URLs, signed
    (Standard Webhooks), at least once, until SIGINT or SIGTERM."""
    from ..webhooks.serve import run_webhooks, subscriptions_of

    with usage_errors():
        settings = load_settings(webhooks_file=webhooks_file, bootstrap_servers=bootstrap_servers)
        settings.require("bootstrap_servers", "webhooks_file")
        subscriptions = subscriptions_of(settings)  # a bad file: exit 2 before any connection
        _configure_logging(log_level, settings.log_format)

    async def main() -> None:
        stop = asyncio.Event()
        _on_stop_signals(stop.set)
        await run_webhooks(settings, subscriptions=subscriptions, stop=stop)

    with usage_errors(), kafka_errors(settings):
        asyncio.run(main())
    log.info("webhooks stopped")


def _settings(bootstrap_servers: str | None, webhooks_file: str | None = None) -> Settings:
    with usage_errors():
        settings = load_settings(bootstrap_servers=bootstrap_servers, webhooks_file=webhooks_file)
        settings.require("bootstrap_servers")
    return settings


def _letters(settings: Settings, subscription: str | None) -> list[Any]:
    from intermission_producer import KafkaTransport

    from ..webhooks import read_webhook_dead_letters

    async def main() -> list[Any]:
        assert settings.bootstrap_servers is not None
        async with KafkaTransport(
            settings.bootstrap_servers, security=settings.kafka_security()
        ) as transport:
            return await read_webhook_dead_letters(
                transport, settings.webhook_dead_letter_topic, subscription=subscription
            )

    with kafka_errors(settings):
        return asyncio.run(main())


@webhook_dlq_app.command("list")
def list_letters(
    subscription: Subscription = None,
    json_lines: Annotated[bool, typer.Option("--jsonl", help="One JSON object a line")] = False,
    bootstrap_servers: BootstrapServers = None,
) -> None:
    """Every webhook dead letter, with its id for `redrive`."""
    settings = _settings(bootstrap_servers)
    entries = _letters(settings, subscription)
    if json_lines:
        for entry in entries:
            letter = entry.letter
            record = {
                "id": entry.id,
                "at": entry.at.isoformat(),
                "subscription": letter.subscription,
                "webhookId": letter.webhook_id,
                "eventType": letter.event_type,
                "runId": letter.run_id,
                "attempts": letter.attempts,
                "lastError": letter.last_error,
            }
            typer.echo(json.dumps(record, ensure_ascii=False))
        return
    table = Table(
        title=f"{len(entries)} webhook dead letter(s) on {settings.webhook_dead_letter_topic}",
        title_justify="left",
    )
    for column in ("id", "subscription", "event", "run", "attempts"):
        table.add_column(column, no_wrap=True)
    table.add_column("last error", overflow="ellipsis", no_wrap=True, max_width=50)
    for entry in entries:
        letter = entry.letter
        table.add_row(
            entry.id,
            letter.subscription,
            letter.event_type,
            letter.run_id,
            str(letter.attempts),
            letter.last_error,
        )
    console.print(table)


@webhook_dlq_app.command("redrive")
def redrive_letters(
    letter_id: Annotated[
        list[str] | None, typer.Argument(help="Ids to deliver again (PARTITION:OFFSET)")
    ] = None,
    all_letters: Annotated[bool, typer.Option("--all", help="Every letter (of --subscription)")] = False,
    subscription: Subscription = None,
    webhooks_file: WebhooksFile = None,
    bootstrap_servers: BootstrapServers = None,
) -> None:
    """Deliver the selected webhook dead letters again, once each, with their webhook ids."""
    from ..webhooks.delivery import Sender
    from ..webhooks.redrive import redrive_webhooks
    from ..webhooks.serve import http_client, subscriptions_of

    settings = _settings(bootstrap_servers, webhooks_file)
    if not letter_id and not all_letters:
        fail("name the webhook dead letters to deliver again, or give --all", EXIT_USAGE)
    with usage_errors():
        subscriptions = {sub.id: sub for sub in subscriptions_of(settings)}
    entries = _letters(settings, subscription)
    if letter_id:
        unknown = set(letter_id) - {e.id for e in entries}
        if unknown:
            fail(f"no webhook dead letter {', '.join(sorted(unknown))}", EXIT_USAGE)
        entries = [e for e in entries if e.id in set(letter_id)]

    async def main() -> Any:
        async with http_client() as client:
            sender = Sender(client, timeout_seconds=settings.webhooks_timeout_seconds)
            return await redrive_webhooks(
                entries,
                subscriptions,
                sender,
                settings.inbox_public_url,
                on_progress=lambda entry, outcome: console.print(
                    f"{entry.id} -> {entry.letter.subscription}: {outcome}"
                ),
            )

    counts = asyncio.run(main())
    console.print(f"{len(entries)} selected, {counts.delivered} delivered, {counts.failed} failed")
    if counts.failed:
        raise typer.Exit(EXIT_FAILED)
