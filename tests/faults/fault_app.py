"""The app the fault tests' workers serve (``INTERMISSION_APP=fault_app:ai``).

Every tool call and every outside effect is recorded under ``$INTERMISSION_FAULTS_DIR`` (set by
the test for its worker processes; this module is test code, so it may read it):

    calls.jsonl        one JSON line per tool event: start / interrupt / effect / finish, with
                       run id, ref, tool, pid, the resume it applies, the idempotency key
    model.jsonl        one JSON line per model call: run id, turn, pid
    transfers/<sha>    the outside system of `transferMoney`: created with O_EXCL, once per
                       idempotency key, so its effect happens at most once per key
    notifications.jsonl  the outside system of `notify`, which has no idempotency: one line per
                       effect, however often the same call runs

Lines are appended with O_APPEND and are far below PIPE_BUF, so concurrent workers never
interleave them, and file order is the order in which things happened.

The scripted model, by the first user message:

    "transfer <run id>"   turn 0: transferMoney (ref "transfer", needs approval) and notify
                          (ref "notify-1"); turn 1: notify (ref "notify-2"); turn 2: the text
                          "done <run id>: <transfer output>"
    "slow <seconds> <run id>"  turn 0: slowTool (ref "slow") that sleeps that long; turn 1: text

`before_return` is a hook the worker runner (worker_process.py) sets to kill the process after
a tool's effect and before the tool returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from intermission import Intermission, Message, ModelRequest, ScriptedModel, ToolContext, reply, tool_call
from pydantic import BaseModel

FAULTS_DIR_VARIABLE = "INTERMISSION_FAULTS_DIR"
CLOCK_SKEW_VARIABLE = "INTERMISSION_FAULTS_CLOCK_SKEW"  # seconds this process's clock is ahead

# Set by worker_process.py; called after every tool effect, before the tool returns.
before_return: Callable[[str], None] = lambda tool: None  # noqa: E731


def _dir() -> Path:
    return Path(os.environ[FAULTS_DIR_VARIABLE])


def append(name: str, entry: dict[str, Any]) -> None:
    # A worker whose clock a test skews (libfaketime) says by how much, so that the times
    # recorded here, which the counts compare across workers, stay on one clock.
    t = time.time() - float(os.environ.get(CLOCK_SKEW_VARIABLE, "0"))
    line = (json.dumps({**entry, "pid": os.getpid(), "t": t}) + "\n").encode()
    fd = os.open(_dir() / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def idempotency_key(ctx: ToolContext) -> str:
    # ctx.idempotency_key is new; until every worker sets it, the run and ref name the call.
    return getattr(ctx, "idempotency_key", None) or f"{ctx.context['run_id']}/{ctx.ref}"


def _call(ctx: ToolContext, event: str, **extra: Any) -> None:
    resumed = ctx.resumed if isinstance(ctx.resumed, dict) else {}
    append(
        "calls.jsonl",
        {
            "event": event,
            "tool": ctx.name,
            "run_id": ctx.context.get("run_id"),
            "ref": ctx.ref,
            "status": resumed.get("status"),
            "resume_id": resumed.get("resumeId"),
            "idempotency_key": getattr(ctx, "idempotency_key", None),
            **extra,
        },
    )


def _turn(request: ModelRequest) -> int:
    return sum(1 for m in request.messages if m.role == "model")


def scripted(request: ModelRequest) -> Message:
    words = next(m for m in request.messages if m.role == "user").text.split()
    turn = _turn(request)
    append("model.jsonl", {"run_id": words[-1], "turn": turn})
    if words[0] == "slow":
        if turn == 0:
            return reply(tool_call("slowTool", {"seconds": float(words[1])}, ref="slow"))
        return reply(f"done {words[-1]}")
    if words[0] != "transfer":
        return reply(f"echo: {' '.join(words)}")
    if turn == 0:
        return reply(
            tool_call("transferMoney", {"toAccountId": "ABC123", "amount": 100000}, ref="transfer"),
            tool_call("notify", {"note": "transfer requested"}, ref="notify-1"),
        )
    if turn == 1:
        return reply(tool_call("notify", {"note": "transfer decided"}, ref="notify-2"))
    transfer = next(
        p.tool_response.output
        for m in request.messages
        if m.role == "tool"
        for p in m.content
        if p.tool_response.ref == "transfer"
    )
    return reply(f"done {words[-1]}: {json.dumps(transfer, sort_keys=True)}")


class Transfer(BaseModel):
    toAccountId: str
    amount: int


class Note(BaseModel):
    note: str


class Slow(BaseModel):
    seconds: float


def build() -> Intermission:
    ai = Intermission(model=ScriptedModel(scripted))

    @ai.define_tool(name="transferMoney", description="Transfers money; needs approval.")
    async def transfer_money(input: Transfer, ctx: ToolContext) -> dict[str, object]:
        _call(ctx, "start")
        status = ctx.resumed.get("status") if isinstance(ctx.resumed, dict) else None
        if status == "REJECTED":
            _call(ctx, "finish")
            return {"status": "REJECTED"}
        if status != "APPROVED":
            _call(ctx, "interrupt")
            ctx.interrupt({"message": "Please confirm sending an amount > $100."})
        key = idempotency_key(ctx)
        applied = _apply_once(key, ctx)
        _call(ctx, "effect", key=key, applied=applied)
        before_return("transferMoney")
        _call(ctx, "finish")
        return {"status": "COMPLETED"}

    @ai.define_tool(name="notify", description="Sends a notification; no idempotency.")
    async def notify(input: Note, ctx: ToolContext) -> dict[str, object]:
        _call(ctx, "start")
        append("notifications.jsonl", {"run_id": ctx.context.get("run_id"), "ref": ctx.ref})
        _call(ctx, "effect")
        before_return("notify")
        _call(ctx, "finish")
        return {"sent": True}

    @ai.define_tool(name="slowTool", description="Takes a while.")
    async def slow_tool(input: Slow, ctx: ToolContext) -> dict[str, object]:
        _call(ctx, "start")
        await asyncio.sleep(input.seconds)
        _call(ctx, "finish")
        return {"slept": input.seconds}

    return ai


def _apply_once(key: str, ctx: ToolContext) -> bool:
    """The outside system: one file per idempotency key, created only if absent."""
    folder = _dir() / "transfers"
    folder.mkdir(exist_ok=True)
    name = hashlib.sha256(key.encode()).hexdigest()[:32]
    try:
        fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, json.dumps({"key": key, "run_id": ctx.context.get("run_id"), "ref": ctx.ref}).encode())
    finally:
        os.close(fd)
    return True


ai = build()
