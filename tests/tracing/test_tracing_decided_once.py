"""Whether spans are recorded is decided without reading the environment on every engine call,
and an SDK installed after the engine was built is still seen.

Run in a fresh interpreter: the global tracer provider can be set once per process, and this
session's other tracing tests set theirs (conftest.py).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    """
    import asyncio
    import os

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from intermission import Resume
    from intermission._tracing import recording
    from tracing_app import ai

    class Counting(dict):
        reads = 0

        def __contains__(self, key):
            Counting.reads += 1
            return super().__contains__(key)

        def __getitem__(self, key):
            Counting.reads += 1
            return super().__getitem__(key)

        def get(self, key, default=None):
            Counting.reads += 1
            return super().get(key, default)

    async def cycle(times=1):
        for _ in range(times):
            await one_cycle()

    async def one_cycle():
        paused = await ai.generate(prompt="transfer", tools=["transferMoney"])
        tool = ai.tool("transferMoney")
        approve = tool.restart(paused.interrupts[0], {"status": "APPROVED"})
        await ai.generate(messages=paused.messages, tools=[tool], resume=Resume(restart=[approve]))

    assert recording() is False
    loop = asyncio.new_event_loop()  # made first: a new loop reads PYTHONASYNCIODEBUG
    os.environ = Counting(os.environ)
    loop.run_until_complete(cycle(3))
    assert Counting.reads == 0, f"{Counting.reads} environment reads in 3 cycles"

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    assert recording() is True
    loop.run_until_complete(cycle())
    names = sorted(span.name for span in exporter.get_finished_spans())
    # A model call that pauses, the restarted tool, the tool that paused, the final model call.
    assert names == ["chat", "chat", "execute_tool transferMoney", "execute_tool transferMoney"], names
    print("ok")
    """
)


def test_no_environment_read_per_call_and_a_later_sdk_still_records() -> None:
    env = {"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
