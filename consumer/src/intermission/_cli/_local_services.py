"""`intermission services up`: real Kafka and S3 on loopback for local use, without Docker."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import JavaToolsMissingError, LocalServiceError, ServicesExtraMissingError, UnavailableError
from ._common import EXIT_FAILED, EXIT_USAGE, fail

if TYPE_CHECKING:
    from ..service.local_services.stack import LocalStack

services_app = typer.Typer(
    help="Real Kafka and S3 on this machine, for local use (no Docker).", no_args_is_help=True
)

# How often `up` looks whether Kafka and SeaweedFS are still alive while it waits for Ctrl-C.
_WATCH_INTERVAL_S = 1.0


@services_app.command("up")
def up(
    kafka_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Kafka's port on 127.0.0.1 (0: any free one).")
    ] = 9092,
    s3_port: Annotated[
        int, typer.Option(min=0, max=65535, help="The S3 endpoint's port on 127.0.0.1 (0: any free one).")
    ] = 8333,
    bucket: Annotated[str, typer.Option(help="Bucket to create for snapshots.")] = "intermission",
    partitions: Annotated[int, typer.Option(min=1, help="Partitions per topic.")] = 6,
    brokers: Annotated[
        int,
        typer.Option(
            min=1,
            max=9,
            help="Kafka brokers: 1, or a KRaft cluster (3: replication 3, min.insync.replicas 2; "
            "--kafka-port is the first broker's).",
        ),
    ] = 1,
) -> None:
    """Start Apache Kafka (KRaft, from its Maven Central jars; needs Java 17+ and, the first
    time, Maven) and SeaweedFS's S3 (the intermission\\[services] extra) on loopback, create the
    bucket and the topics, print the settings that point a worker at them, and run until
    Ctrl-C. Their data is temporary: it is deleted when they stop."""
    # (The help is rich markup: "\\[" keeps the extra's brackets from being read as a tag.)
    from ..service.local_services.stack import start_local_stack

    try:
        stack = start_local_stack(
            kafka_port=kafka_port or None, s3_port=s3_port or None, bucket=bucket, brokers=brokers
        )
    except (JavaToolsMissingError, ServicesExtraMissingError) as exc:
        fail(str(exc), EXIT_USAGE)  # something to install: fix the machine, not a retry
    except LocalServiceError as exc:
        fail(str(exc), EXIT_FAILED)
    try:
        asyncio.run(_provision_and_serve(stack, partitions))
    except (LocalServiceError, UnavailableError) as exc:
        fail(str(exc), EXIT_FAILED)
    finally:
        stack.stop()
    typer.echo("Kafka and SeaweedFS stopped.")


async def _provision_and_serve(stack: LocalStack, partitions: int) -> None:
    topics = await stack.provision(partitions=partitions)
    lines = [f"export {name}={value}" for name, value in stack.environment().items()]
    # Plain lines on stdout, flushed: a script (or a test) waits for them, and a person pastes
    # them into another shell before `intermission worker`.
    print(
        f"Kafka at {stack.kafka.bootstrap_servers}, S3 at {stack.s3.endpoint_url}; "
        f"bucket {stack.bucket!r} and topics {', '.join(topics)} are ready.\n"
        "Point a worker, an inbox or `intermission submit` at them with:\n\n"
        + "\n".join(lines)
        + "\n\nThen run `intermission worker` in that shell. Ctrl-C here stops Kafka and SeaweedFS.",
        flush=True,
    )
    await _until_stopped(stack)


async def _until_stopped(stack: LocalStack) -> None:
    """Wait for SIGINT or SIGTERM; fail if Kafka or SeaweedFS dies meanwhile."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # Windows: Ctrl-C still raises KeyboardInterrupt
            break
    while not stop.is_set():
        if not stack.running:
            dead = "Kafka" if not stack.kafka.running else "SeaweedFS"
            raise LocalServiceError(f"{dead} exited by itself; stopping the other one too")
        try:
            async with asyncio.timeout(_WATCH_INTERVAL_S):
                await stop.wait()
        except TimeoutError:
            continue
    print("Stopping Kafka and SeaweedFS...", file=sys.stderr, flush=True)
