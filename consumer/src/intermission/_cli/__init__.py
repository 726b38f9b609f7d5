"""The ``intermission`` command line: one module per command, assembled here."""

from __future__ import annotations

import typer

from ._approvals import approvals
from ._bucket import bucket_app
from ._demo import demo
from ._dev import dev, inbox
from ._dlq import dlq_app
from ._keys import keys_app
from ._local_services import services_app
from ._replay import replay
from ._runs import runs_app
from ._schemas import schemas_app
from ._service import doctor, topics_app, worker
from ._submit import submit
from ._webhooks import webhook_dlq_app, webhooks

app = typer.Typer(
    name="intermission",
    help="LLM generations that pause for people and systems, and resume on any worker.",
    no_args_is_help=True,
    # Locals in a traceback would print settings, keys and prompts to the terminal and its logs.
    pretty_exceptions_show_locals=False,
)
app.command()(dev)
app.command()(demo)
app.command()(worker)
app.command()(doctor)
app.command()(submit)
app.command()(approvals)
app.command()(inbox)
app.command()(replay)
app.command()(webhooks)
app.add_typer(runs_app, name="runs")
app.add_typer(dlq_app, name="dlq")
app.add_typer(topics_app, name="topics")
app.add_typer(bucket_app, name="bucket")
app.add_typer(services_app, name="services")
app.add_typer(schemas_app, name="schemas")
app.add_typer(keys_app, name="keys")
dlq_app.add_typer(webhook_dlq_app, name="webhooks")


def main() -> None:
    app()


__all__ = ["app", "main"]
