"""`intermission approvals`: watch the approvals topic and answer interrupts from the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import getpass
import os
import sys
import threading
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from intermission_schemas import InterruptRaised, PendingInterrupt, ResumeRequested
from rich.table import Table
from rich.text import Text

from ..service.wiring.settings import Settings
from ._answering import Policy, Verdict, decide
from ._common import (
    BootstrapServers,
    TopicApprovals,
    TopicResumes,
    as_json,
    console,
    kafka_errors,
    load_settings,
    usage_errors,
)

if TYPE_CHECKING:
    from ..inbox.view import PendingView

T = TypeVar("T")

_PROMPT_THREAD = "intermission-prompt"


def approvals(
    from_beginning: Annotated[
        bool,
        typer.Option(
            "--from-beginning",
            hidden=True,
            help="Kept for old scripts: the current pending interrupts are always shown now.",
        ),
    ] = False,
    auto: Annotated[
        Verdict | None,
        typer.Option(
            help="Answer without asking: restartable interrupts get this verdict.", show_default=False
        ),
    ] = None,
    answer: Annotated[
        str | None,
        typer.Option(
            help="With --auto: the output (JSON or text) for interrupts that need one.", show_default=False
        ),
    ] = None,
    answered_by: Annotated[
        str | None, typer.Option(help="Who answers, for the audit trail (default: your user name).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Stop after answering this many interrupts.", show_default=False)
    ] = None,
    group_id: Annotated[
        str | None,
        typer.Option(
            help="Share the work with other approvers in this consumer group: each new interrupt goes "
            "to one of them (instead of showing every current pending interrupt).",
            show_default=False,
        ),
    ] = None,
    verdict_wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for the service's verdict on each answer sent.")
    ] = 10.0,
    bootstrap_servers: BootstrapServers = None,
    topic_approvals: TopicApprovals = None,
    topic_resumes: TopicResumes = None,
) -> None:
    """Show the pending interrupts and answer them: approve/reject a restartable tool, or type an answer.

    The pending list is built from the topics (approvals, resumes, results) from their
    beginning, so interrupts raised before the command started are shown and answered ones are
    not; new ones appear as they are raised. Each answer's outcome (accepted, or rejected with the
    service's reason) is reported."""
    del from_beginning  # the default now
    if answer is not None and auto is None:
        raise typer.BadParameter("--answer only applies with --auto", param_hint="--answer")
    policy = Policy(answered_by=answered_by or _user(), auto=auto, auto_answer=answer)
    with usage_errors():
        settings = load_settings(
            bootstrap_servers=bootstrap_servers, topic_approvals=topic_approvals, topic_resumes=topic_resumes
        )
        settings.require("bootstrap_servers")
        with kafka_errors(settings):
            try:
                answered = asyncio.run(_watch(settings, policy, group_id, limit, verdict_wait))
            except KeyboardInterrupt:
                # Ctrl-C is how a person leaves a watch that has no --limit: not an error.
                console.print("stopped")
                _leave_past_a_waiting_prompt(130)
                raise typer.Exit(130) from None
    console.print(f"answered {answered} interrupt(s)")


def _leave_past_a_waiting_prompt(code: int) -> None:
    """Exit at once if the prompt thread still waits for a line.

    CPython aborts at shutdown ("could not acquire lock for <stdin> at interpreter shutdown")
    while a daemon thread is blocked reading stdin. By now asyncio.run has closed the Kafka
    clients, so skipping the interpreter's finalization loses nothing.
    """
    if any(thread.name == _PROMPT_THREAD and thread.is_alive() for thread in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _user() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name (containers): still say it came from here
        return "cli"


async def _watch(
    settings: Settings, policy: Policy, group_id: str | None, limit: int | None, verdict_wait: float
) -> int:
    from intermission_producer import IntermissionClient, KafkaTransport

    from ..inbox.view import PendingView

    assert settings.bootstrap_servers is not None
    answered = 0
    transport = KafkaTransport(settings.bootstrap_servers, security=settings.kafka_security())
    await transport.start()
    view = PendingView(transport, settings.topics)
    try:
        await view.start()
        signing_key = settings.answer_signing_key()
        async with IntermissionClient(
            transport=transport, topics=settings.topics, signing_key=signing_key
        ) as client:
            where = f"as group {group_id}" if group_id else "pending now and from now on"
            console.print(f"watching {settings.topics.approvals} ({where}); Ctrl-C to stop", style="dim")
            source = _open_pauses(view) if group_id is None else client.interrupts(group_id=group_id)
            # aclosing: leaving the loop early (--limit) stops the reader now, not at shutdown.
            async with contextlib.aclosing(source) as raised_events:
                async for raised in raised_events:
                    budget = None if limit is None else limit - answered
                    answered += await _answer(client, view, raised, policy, budget, verdict_wait)
                    if limit is not None and answered >= limit:
                        break
    finally:
        await view.stop()
        await transport.stop()
    return answered


async def _open_pauses(view: PendingView) -> AsyncGenerator[InterruptRaised, None]:
    """Every run's open pause as the view holds it now, then each one that opens or changes."""
    shown: set[tuple[str, int, tuple[str, ...]]] = set()
    async with view.changes() as changes:
        while True:
            for state in view.pending():
                raised = state.raised
                assert raised is not None
                key = (raised.run_id, raised.snapshot.version, tuple(raised.answered))
                if key not in shown:
                    shown.add(key)
                    yield raised
            await changes.get()


async def _answer(
    client: Any,
    view: PendingView,
    raised: InterruptRaised,
    policy: Policy,
    budget: int | None,
    verdict_wait: float,
) -> int:
    """Show one pause, decide, send one resume for what was decided, report the service's
    verdict; how many were answered."""
    pending = _pending(raised)
    if not pending:
        return 0
    console.print(_table(raised, pending))
    # Asking blocks on the terminal: off the event loop, so Kafka's background work (a group's
    # heartbeats above all) goes on while a person thinks.
    answers = await _in_daemon_thread(decide, raised, pending[:budget], policy, _ask)
    if not answers:
        return 0
    sent = await client.resume(
        raised, respond=answers.respond, restart=answers.restart, answered_by=policy.answered_by
    )
    message = f"sent resume {sent.resume_id} for run {raised.run_id}: {answers.describe()}"
    console.print(Text(message, style="dim"), soft_wrap=True)
    console.print(await _verdict(view, sent, verdict_wait), soft_wrap=True)
    return len(answers)


async def _verdict(view: PendingView, sent: ResumeRequested, wait: float) -> Text:
    from ..inbox.answers import outcome

    state = view.get(sent.run_id)
    if state is None:
        return Text(f"no verdict on resume {sent.resume_id} yet (run unknown to the topics)", style="yellow")
    await view.wait_for(lambda: outcome(state, sent) is not None, wait)
    verdict = outcome(state, sent)
    if verdict is None:
        return Text(f"no verdict on resume {sent.resume_id} within {wait:g} s", style="yellow")
    if verdict["outcome"] == "rejected":
        return Text(f"rejected ({verdict['reason']}): {verdict['detail']}", style="bold red")
    return Text(f"accepted: run {sent.run_id} took resume {sent.resume_id}", style="green")


def _pending(raised: InterruptRaised) -> list[PendingInterrupt]:
    """The interrupts still open; an expired pause is only reported, since the service would
    reject any answer to it."""
    expires = raised.expires_at
    if expires is not None and _aware(expires) <= datetime.now(UTC):
        console.print(
            f"run {raised.run_id}: pause v{raised.snapshot.version} expired at {expires}", style="dim"
        )
        return []
    return [interrupt for interrupt in raised.interrupts if interrupt.ref not in raised.answered]


def _aware(moment: datetime) -> datetime:
    # The worker writes UTC with an offset; a hand-written event may omit it.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _table(raised: InterruptRaised, pending: list[PendingInterrupt]) -> Table:
    table = Table(
        title=f"Pending on run {raised.run_id} (snapshot v{raised.snapshot.version})", title_justify="left"
    )
    # Identifiers stay whole (someone may copy them); the JSON columns take what room is left.
    for column in ("run id", "ref", "tool"):
        table.add_column(column, no_wrap=True)
    table.add_column("input", overflow="fold", ratio=1)
    table.add_column("metadata", overflow="fold", ratio=1)
    table.add_column("expires", no_wrap=True)
    expires = raised.expires_at.isoformat(timespec="seconds") if raised.expires_at else "never"
    for interrupt in pending:
        kind = "" if interrupt.restartable else " (answer)"
        table.add_row(
            raised.run_id,
            interrupt.ref,
            interrupt.tool + kind,
            as_json(interrupt.input),
            as_json(interrupt.metadata),
            expires,
        )
    return table


def _ask(prompt: str) -> str:
    # default="" lets an empty line through (it means "skip"); click would otherwise re-ask.
    line: str = typer.prompt(prompt, default="", show_default=False)
    return line


async def _in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a daemon thread. Unlike asyncio.to_thread, a Ctrl-C while it
    waits for input ends the program at once instead of waiting for the Enter key at exit."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not done.done():  # the waiter may have been cancelled meanwhile
            outcome()

    def run() -> None:
        try:
            result = function(*args)
        except BaseException as exc:  # handed to the awaiting task, which re-raises it
            deliver = functools.partial(done.set_exception, exc)
        else:
            deliver = functools.partial(done.set_result, result)
        # The loop is gone if the program stopped while this thread was asking: nobody to tell.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, deliver)

    threading.Thread(target=run, name=_PROMPT_THREAD, daemon=True).start()
    return await done
