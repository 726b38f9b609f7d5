"""One interrupt -> resume cycle, in process, for Intermission and its peers, side by side.

Usage: ``uv run --group peers python bench/engine_cycle.py [--warmup N] [--iterations M]
[--peer-warmup N] [--peer-iterations M] [--turns 0,50]``. A benchmark, not a test: it prints
p50/p95 per cycle, the load average before and after, and our ratio to the fastest peer at each
turn count, and never fails on a number.

Our cycle takes tens of microseconds, so a few hundred samples read high and move between runs:
the defaults are 300 warm-up and 2,000 timed cycles. A peer's cycle takes milliseconds, so peers
get 50 warm-up and 500 timed cycles by default (the header says so), which keeps a run near a
minute and a half; pass ``--peer-iterations 2000`` for the same count as ours.

The cycle is the same for everyone (see peers.py): the scripted model calls a transfer tool that
needs approval; the run pauses; the paused history is serialized to bytes and deserialized by a
second engine instance (another "process"); the caller approves; the tool runs; the model says
"done". Setup (engine construction, tool definitions, the prior history) is not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing
import peers
from intermission import Intermission, ModelRequest, Resume, ScriptedModel, ToolContext, reply, tool_call
from intermission_schemas import Message, TextPart, encode
from pydantic import BaseModel


class TransferInput(BaseModel):
    toAccountId: str
    amount: int


def _scripted(request: ModelRequest) -> Message:
    # Zero-latency model: ask for the transfer, then finish once the tool result is in.
    if request.messages[-1].role == "tool":
        return reply(peers.FINAL_TEXT)
    return reply(tool_call(peers.TOOL_NAME, dict(peers.TRANSFER_INPUT)))


def _engine() -> tuple[Intermission, Any]:
    ai = Intermission(model=ScriptedModel(_scripted))

    @ai.define_tool(name=peers.TOOL_NAME, description="Transfer money; needs approval first.")
    async def transfer(input: TransferInput, ctx: ToolContext) -> dict[str, Any]:
        if ctx.resumed is None:
            ctx.interrupt({"message": "approve?"})
        return dict(peers.TOOL_RESULT)

    return ai, transfer


class IntermissionCycle:
    name = "intermission"

    async def setup(self, prior_turns: int) -> None:
        # Two engines: the one that pauses and the one that resumes from bytes.
        self._pausing, self._pausing_tool = _engine()
        self._resuming, self._resuming_tool = _engine()
        history: list[Message] = []
        for i in range(prior_turns):
            question, answer = peers._prior_text(i)
            history.append(Message(role="user", content=[TextPart(question)]))
            history.append(Message(role="model", content=[TextPart(answer)]))
        self._history = history

    async def cycle(self) -> None:
        paused = await self._pausing.generate(
            messages=self._history, prompt=peers.USER_PROMPT, tools=[self._pausing_tool]
        )
        assert paused.finish_reason == "interrupted"
        blob = encode(paused.to_paused())

        loaded = Intermission.load_paused(blob)
        approve = self._resuming_tool.restart(loaded.interrupts[0], {"status": "APPROVED"})
        done = await self._resuming.generate(
            messages=loaded.messages, tools=[self._resuming_tool], resume=Resume(restart=[approve])
        )
        assert done.text == peers.FINAL_TEXT, done.text


def _load() -> str:
    """The 1, 5 and 15 minute load averages: the cores may be shared with other work."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


async def _run(args: argparse.Namespace) -> None:
    turns = [int(t) for t in args.turns.split(",") if t.strip()]
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cpus; "
        f"intermission: warmup={args.warmup} iterations={args.iterations}; "
        f"peers: warmup={args.peer_warmup} iterations={args.peer_iterations}; load {_load()}"
    )
    print(f"{'engine':<24} {'turns':>5} {'p50 ms':>8} {'p95 ms':>8}")
    results: dict[int, dict[str, _timing.Summary]] = {t: {} for t in turns}
    factories: list[Any] = [IntermissionCycle, *peers.PEERS]
    for factory in factories:
        for prior_turns in turns:
            try:
                engine = factory()
                await engine.setup(prior_turns)
                ours = factory is IntermissionCycle
                samples = await _timing.measure(
                    engine.cycle,
                    warmup=args.warmup if ours else args.peer_warmup,
                    iterations=args.iterations if ours else args.peer_iterations,
                )
            except (ImportError, peers.PeerUnavailable) as exc:
                print(f"{getattr(factory, '__name__', factory)!s:<24} unavailable: {exc}")
                break
            summary = _timing.summarize(samples)
            results[prior_turns][engine.name] = summary
            print(f"{engine.name:<24} {prior_turns:>5} {summary.p50_ms:>8.3f} {summary.p95_ms:>8.3f}")
    print(f"load {_load()}")
    print()
    for prior_turns, by_name in results.items():
        ours = by_name.get("intermission")
        rivals = {n: s for n, s in by_name.items() if n != "intermission"}
        if ours is None or not rivals:
            continue
        fastest = min(rivals, key=lambda n: rivals[n].p50_ms)
        print(
            f"turns={prior_turns}: fastest peer {fastest} p50 {rivals[fastest].p50_ms:.3f} ms; "
            f"intermission is {rivals[fastest].p50_ms / ours.p50_ms:.1f}x faster at p50, "
            f"{rivals[fastest].p95_ms / ours.p95_ms:.1f}x at p95"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_WARMUP", "300")))
    parser.add_argument("--iterations", type=int, default=int(os.environ.get("BENCH_ITERATIONS", "2000")))
    parser.add_argument("--peer-warmup", type=int, default=int(os.environ.get("BENCH_PEER_WARMUP", "50")))
    parser.add_argument(
        "--peer-iterations", type=int, default=int(os.environ.get("BENCH_PEER_ITERATIONS", "500"))
    )
    parser.add_argument("--turns", default=os.environ.get("BENCH_TURNS", "0,50"))
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
