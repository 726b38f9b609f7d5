"""`intermission dev`: worker, inbox and HTTP API in one process on the embedded backends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from ._common import BootstrapServers, console, kafka_errors, load_settings, usage_errors


def dev(
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8765,
    directory: Annotated[
        Path,
        typer.Option("--dir", file_okay=False, help="Snapshots, results and the token secret."),
    ] = Path(".intermission"),
) -> None:
    """Serve the inbox, the HTTP API and a worker in one process: no servers, no API key.

    Start a run from the page, answer its interrupt, watch it finish. Ctrl-C stops it.
    """
    from ..inbox.dev import serve_dev

    with usage_errors():
        settings = load_settings()

        def ready(url: str) -> None:
            console.print(f"Intermission dev: inbox and HTTP API at {url}", soft_wrap=True)
            console.print("worker, inbox and API run in this process; Ctrl-C stops them", style="dim")

        asyncio.run(serve_dev(settings, directory=directory, host=host, port=port, on_ready=ready))


def inbox(
    bootstrap_servers: BootstrapServers = None,
    bucket: Annotated[
        str | None,
        typer.Option(help="S3 bucket for run histories (env INTERMISSION_BUCKET)", show_default=False),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port (0: any free one).")] = 8765,
) -> None:
    """Serve the inbox and HTTP API over Kafka (and S3 for histories) for running workers.

    Any number may run; each builds its view from the topics. Callers are people signed in at
    INTERMISSION_INBOX_OIDC_ISSUER (with a client id), bearer JWTs from that issuer, or the
    INTERMISSION_INBOX_IDENTITY_HEADER your proxy sets (believed only from
    INTERMISSION_INBOX_TRUSTED_PROXIES); with none of these, everyone is
    INTERMISSION_INBOX_IDENTITY.
    """
    from ..inbox.serve import serve_inbox

    with usage_errors():
        settings = load_settings(bootstrap_servers=bootstrap_servers, bucket=bucket)
        settings.require("bootstrap_servers")
        with kafka_errors(settings):
            asyncio.run(
                serve_inbox(
                    settings,
                    host=host,
                    port=port,
                    on_ready=lambda url: console.print(f"Intermission inbox at {url}", soft_wrap=True),
                )
            )
