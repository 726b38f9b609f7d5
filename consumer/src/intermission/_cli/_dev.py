"""`intermission dev`: worker, inbox and HTTP API in one process on the embedded backends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from ._common import console, load_settings, usage_errors


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
