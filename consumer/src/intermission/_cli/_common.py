"""What every command shares: consoles, the one-line error exit, settings from flags, options."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from ..errors import LogUnavailableError, UsageError
from ..service.wiring.settings import Settings

# Exit codes: 1 the run or the command failed; 2 the invocation or configuration is wrong
# (click uses 2 for bad flags too, so a script can tell "fix your call" from "it failed").
EXIT_FAILED = 1
EXIT_USAGE = 2

# The console resolves sys.stdout on every write, so typer's CliRunner captures it. No markup:
# run ids, tool inputs and model text go into the output, and "[b]" in them must stay "[b]";
# styles are set with style= and Text instead.
console = Console(highlight=False, markup=False)


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """One line on stderr and an exit code: no traceback for errors the user can fix."""
    # typer.echo, not rich: rich would wrap a long message at the terminal width, and a
    # one-line message must stay one line for whoever greps the logs.
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """Turn configuration and calling mistakes (SettingsError and friends) into exit code 2."""
    from intermission_producer import ClientUsageError

    try:
        yield
    except (UsageError, ClientUsageError) as exc:
        fail(str(exc), EXIT_USAGE)


def load_settings(**flags: Any) -> Settings:
    """Settings from the environment with the flags that were given (None = not given) on top."""
    return Settings.load(os.environ, **flags)


def as_json(value: Any) -> str:
    """Compact JSON for table cells; anything msgspec produced is JSON already."""
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)


def parse_answer(text: str) -> Any:
    """A typed answer: JSON if it parses (42, true, {"a": 1}, "quoted"), else the text itself,
    so that a plain word needs no quotes."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


# -- options shared by several commands ------------------------------------------------------
# Every default is None so Settings.load can tell "not given" from a value and fall back to the
# INTERMISSION_* variables; the help text names the variable for that reason.


def _env_help(name: str, what: str) -> str:
    # Parentheses, not typer's usual "[env: ...]": help is rich markup, where brackets are tags.
    return f"{what} (env INTERMISSION_{name.upper()})"


BootstrapServers = Annotated[
    str | None,
    typer.Option(
        help=_env_help("bootstrap_servers", "Kafka bootstrap servers, host:port[,host:port]").replace(
            ")", " or KAFKA_BOOTSTRAP_SERVERS)"
        ),
        show_default=False,
    ),
]
SnapshotBucket = Annotated[
    str | None, typer.Option(help=_env_help("bucket", "S3 bucket for snapshots"), show_default=False)
]
S3EndpointUrl = Annotated[
    str | None,
    typer.Option(help=_env_help("s3_endpoint_url", "S3-compatible endpoint"), show_default=False),
]
TopicRequests = Annotated[
    str | None, typer.Option(help=_env_help("topic_requests", "Requests topic"), show_default=False)
]
TopicApprovals = Annotated[
    str | None, typer.Option(help=_env_help("topic_approvals", "Approvals topic"), show_default=False)
]
TopicResumes = Annotated[
    str | None, typer.Option(help=_env_help("topic_resumes", "Resumes topic"), show_default=False)
]
TopicResults = Annotated[
    str | None, typer.Option(help=_env_help("topic_results", "Results topic"), show_default=False)
]
TopicDeadLetter = Annotated[
    str | None, typer.Option(help=_env_help("topic_dead_letter", "Dead-letter topic"), show_default=False)
]


# -- Kafka ------------------------------------------------------------------------------------


def producer_client(settings: Settings) -> Any:
    """An (unopened) IntermissionClient on the settings' brokers, topics and security.

    Typed Any so that importing this module does not import the producer SDK and aiokafka:
    `intermission demo` and `--help` should not pay for them.
    """
    from intermission_producer import IntermissionClient

    settings.require("bootstrap_servers")
    assert settings.bootstrap_servers is not None
    return IntermissionClient(
        settings.bootstrap_servers, topics=settings.topics, security=settings.kafka_security()
    )


@contextlib.contextmanager
def kafka_errors(settings: Settings) -> Iterator[None]:
    """A broker that is down or refuses us is an environment problem: one line, exit 1."""
    from intermission_producer import BrokerError

    try:
        yield
    except (LogUnavailableError, BrokerError) as exc:
        fail(f"Kafka at {settings.bootstrap_servers}: {exc}")
