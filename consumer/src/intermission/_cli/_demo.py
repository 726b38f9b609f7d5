"""`intermission demo`: the whole flow in one process, printed step by step."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from intermission_schemas import InterruptRaised, RunCompleted, RunFailed
from rich.table import Table
from rich.text import Text

from ..service.adapters.local import LocalSnapshotStore
from ..service.demo.flow import run_demo
from ._common import EXIT_FAILED, console, fail

_INTRO = (
    "One process plays every part: a caller submits a transfer, the worker pauses it for "
    "approval, an approver answers, and a worker resumes it from the sealed snapshot. The worker, "
    "the engine and the snapshots are the production code; only Kafka (an in-process log) and S3 "
    "(a local directory) are stand-ins."
)


def demo(
    reject: Annotated[bool, typer.Option("--reject", help="The approver rejects the transfer.")] = False,
    store_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            help="Keep the snapshots and the result in this directory (default: a temporary one).",
        ),
    ] = None,
) -> None:
    """Run one transfer through pause, approval and resume, with nothing to install.

    The model is a scripted stand-in, or Gemini when GEMINI_API_KEY is set.
    """
    console.rule(Text("Intermission demo", style="bold"))
    console.print(_INTRO, style="dim")
    console.print()
    if store_dir is not None:
        store_dir.mkdir(parents=True, exist_ok=True)
    try:
        with console.status("running the flow…"):
            final = asyncio.run(_run(reject, store_dir))
    except TimeoutError:
        fail("the demo did not finish within its time limit")
    console.print()
    if store_dir is not None:
        console.print(_stored_table(store_dir, final.run_id))
    _print_outcome(final)


async def _run(reject: bool, store_dir: Path | None) -> RunCompleted | RunFailed:
    def decide(raised: InterruptRaised) -> bool:
        verdict = "rejects" if reject else "approves"
        _step(f"   the approver {verdict} {len(raised.interrupts)} pending interrupt(s)", "dim")
        return not reject

    return await run_demo(decide=decide, say=_step, directory=store_dir)


def _step(message: str, style: str = "") -> None:
    # Text, not markup: the messages carry tool inputs such as "[{'status': ...}]", which rich
    # would try to read as markup tags. soft_wrap keeps each step on one logical line.
    text = Text(message, style=style)
    text.highlight_regex(r"^\d+\.", "bold cyan")
    console.print(text, soft_wrap=True)


def _stored_table(store_dir: Path, run_id: str) -> Table:
    # This run's keys only: the directory may hold earlier runs too.
    keys = asyncio.run(LocalSnapshotStore(store_dir).list(f"runs/{run_id}/"))
    table = Table(title=f"Stored in {store_dir}", title_justify="left")
    table.add_column("key")
    for key in keys:
        table.add_row(key)
    return table


def _print_outcome(final: RunCompleted | RunFailed) -> None:
    if isinstance(final, RunFailed):
        fail(f"run {final.run_id} failed ({final.code}): {final.message}", EXIT_FAILED)
    console.print(
        Text.assemble(
            ("✔ RunCompleted ", "bold green"), (f"run {final.run_id}, finish reason {final.finish_reason}")
        ),
        soft_wrap=True,
    )
