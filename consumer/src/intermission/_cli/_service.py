"""`intermission worker` and `intermission topics create`: the service against real Kafka and S3."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from typing import Annotated, Literal

import typer
from rich.table import Table

from .._app import Intermission
from ..service.wiring.compose import load_app
from ..service.wiring.settings import Settings
from ._common import (
    EXIT_USAGE,
    BootstrapServers,
    S3EndpointUrl,
    SnapshotBucket,
    TopicApprovals,
    TopicDeadLetter,
    TopicRequests,
    TopicResults,
    TopicResumes,
    console,
    fail,
    kafka_errors,
    load_settings,
    usage_errors,
)

log = logging.getLogger("intermission.worker")

topics_app = typer.Typer(help="Manage Intermission's Kafka topics.", no_args_is_help=True)


def worker(
    bootstrap_servers: BootstrapServers = None,
    bucket: SnapshotBucket = None,
    prefix: Annotated[
        str | None,
        typer.Option(help="Key prefix in the bucket (env INTERMISSION_PREFIX)", show_default=False),
    ] = None,
    s3_endpoint_url: S3EndpointUrl = None,
    group_id: Annotated[
        str | None, typer.Option(help="Consumer group (env INTERMISSION_GROUP_ID)", show_default=False)
    ] = None,
    app_spec: Annotated[
        str | None,
        typer.Option(
            "--app", help="module:attribute of your Intermission (env INTERMISSION_APP)", show_default=False
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model for runs whose prompt names none: one your app registered by name, "
            "else a Gemini model (env INTERMISSION_MODEL; default: the app's own)",
            show_default=False,
        ),
    ] = None,
    topic_requests: TopicRequests = None,
    topic_approvals: TopicApprovals = None,
    topic_resumes: TopicResumes = None,
    topic_results: TopicResults = None,
    topic_dead_letter: TopicDeadLetter = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")] = "INFO",
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes in this pod, one consumer each, behind one set of health and "
            "metrics endpoints (env INTERMISSION_PROCESSES; default 1)",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve requests and resumes from Kafka, with snapshots in S3, until SIGINT or SIGTERM."""
    with usage_errors():
        given = dict(
            bootstrap_servers=bootstrap_servers,
            bucket=bucket,
            prefix=prefix,
            s3_endpoint_url=s3_endpoint_url,
            group_id=group_id,
            app=app_spec,
            model=model,
            topic_requests=topic_requests,
            topic_approvals=topic_approvals,
            topic_resumes=topic_resumes,
            topic_results=topic_results,
            topic_dead_letter=topic_dead_letter,
        )
        settings = load_settings(processes=processes, **given)
        # Checked here, before any connection, so a missing setting is exit 2 at once rather
        # than after a broker round trip.
        settings.require("bootstrap_servers", "bucket")
        _configure_logging(log_level, settings.log_format)
        ai = load_app(settings.app)
    if settings.processes > 1:
        code = asyncio.run(_supervise(settings, given, log_level))
        log.info("worker processes stopped")
        raise typer.Exit(code)
    with usage_errors(), kafka_errors(settings):
        asyncio.run(_serve(settings, ai))
    log.info("worker stopped")


def _configure_logging(level: str, log_format: Literal["text", "json"]) -> None:
    from ..service.wiring.logs import configure_logging

    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise typer.BadParameter(f"unknown log level {level!r}", param_hint="--log-level")
    configure_logging(numeric, log_format)


def doctor(
    bootstrap_servers: BootstrapServers = None,
    bucket: SnapshotBucket = None,
    s3_endpoint_url: S3EndpointUrl = None,
) -> None:
    """Check what a worker needs: the bucket and its conditional writes, the brokers, the
    topics and their size limits. Exits 2 naming the setting to fix when a check fails."""
    from ..service.wiring.checks import run_checks
    from ..service.wiring.serve import snapshot_store

    with usage_errors():
        settings = load_settings(
            bootstrap_servers=bootstrap_servers, bucket=bucket, s3_endpoint_url=s3_endpoint_url
        )
        settings.require("bootstrap_servers", "bucket")
        checks = asyncio.run(run_checks(settings, snapshot_store(settings)))
    table = Table(title="intermission doctor", title_justify="left")
    for column in ("check", "", "detail", "fix"):
        table.add_column(column)
    for check in checks:
        table.add_row(check.name, "ok" if check.ok else "FAIL", check.detail, check.setting or "")
    console.print(table)
    failed = [c for c in checks if not c.ok]
    if failed:
        fail(f"{len(failed)} check(s) failed; first: {failed[0].name}: fix {failed[0].setting}", EXIT_USAGE)


async def _supervise(settings: Settings, given: dict[str, str | None], log_level: str) -> int:
    from ..service.wiring.processes import serve_processes, worker_command

    stop = asyncio.Event()
    _on_stop_signals(stop.set)
    # The options given on this command line reach each process as the variables they stand
    # for, so every process reads the same settings this one did.
    flags = {f"INTERMISSION_{name.upper()}": value for name, value in given.items() if value is not None}
    return await serve_processes(
        settings,
        settings.processes,
        command=[*worker_command(), "--log-level", log_level],
        environ={**os.environ, **flags},
        stop=stop,
    )


async def _serve(settings: Settings, ai: Intermission) -> None:
    from ..service.wiring.serve import run_worker

    stop = asyncio.Event()
    _on_stop_signals(stop.set)
    await run_worker(settings, ai=ai, stop=stop)


def _on_stop_signals(stop: Callable[[], None]) -> None:
    """The first SIGINT/SIGTERM stops the worker gracefully; a second one acts as usual
    (KeyboardInterrupt or termination), so a stuck shutdown can still be interrupted."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def handle(received: signal.Signals) -> None:
        log.info("%s received: stopping after the records in flight", received.name)
        for sig in signals:
            loop.remove_signal_handler(sig)
        stop()

    for sig in signals:
        try:
            loop.add_signal_handler(sig, handle, sig)
        except NotImplementedError:  # Windows: Ctrl-C still raises KeyboardInterrupt
            return


@topics_app.command("create")
def topics_create(
    partitions: Annotated[int, typer.Option(min=1, help="Partitions per topic.")] = 6,
    replication: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Replication factor. Default: 3 (with min.insync.replicas 2) on a cluster of "
            "3 brokers or more, else 1.",
        ),
    ] = None,
    bootstrap_servers: BootstrapServers = None,
    topic_requests: TopicRequests = None,
    topic_approvals: TopicApprovals = None,
    topic_resumes: TopicResumes = None,
    topic_results: TopicResults = None,
    topic_dead_letter: TopicDeadLetter = None,
) -> None:
    """Create the five topics; existing ones are left as they are."""
    from ..service.wiring.serve import create_topics

    with usage_errors():
        settings = load_settings(
            bootstrap_servers=bootstrap_servers,
            topic_requests=topic_requests,
            topic_approvals=topic_approvals,
            topic_resumes=topic_resumes,
            topic_results=topic_results,
            topic_dead_letter=topic_dead_letter,
        )
        settings.require("bootstrap_servers")
    with kafka_errors(settings):
        names = asyncio.run(create_topics(settings, partitions=partitions, replication=replication))
    table = Table(title=f"Topics on {settings.bootstrap_servers}", title_justify="left")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("replication", justify="right")
    for name in names:
        table.add_row(name, str(partitions), str(replication) if replication else "as the cluster allows")
    console.print(table)
    console.print("existing topics keep their own partition count and replication", style="dim")
