"""The model and the tools of a step, timed: a `ModelCalled` per model call, a `ToolCalled` per
tool call.

Wrapped inside the journal, so a reply or an output read back from the journal is not counted
as a call: the histograms show what the model and the tools cost, not what a replay saved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..._model import ChunkCallback, Model, ModelRequest, ModelResponse
from ..._tools import Tool, ToolContext
from .events import ModelCalled, ToolCalled
from .observer import NO_OBSERVER, Observer
from .timed_ports import timed

__all__ = ["timed_model", "timed_tools"]


class _TimedModel:
    def __init__(self, inner: Model, observer: Observer) -> None:
        self.inner = inner
        self.observer = observer

    async def generate(self, request: ModelRequest, on_chunk: ChunkCallback | None = None) -> ModelResponse:
        return await timed(
            self.inner.generate(request, on_chunk),
            self.observer,
            lambda seconds, outcome: ModelCalled(seconds=seconds, outcome=outcome),
        )


def timed_model(model: Model, observer: Observer) -> Model:
    return model if observer is NO_OBSERVER else _TimedModel(model, observer)


def timed_tools(tools: Mapping[str, Tool], observer: Observer) -> dict[str, Tool]:
    """The same tools, each call of a function timed. Interrupts (no function) never run."""
    if observer is NO_OBSERVER:
        return dict(tools)
    return {name: _timed(tool, observer) if tool.fn is not None else tool for name, tool in tools.items()}


def _timed(tool: Tool, observer: Observer) -> Tool:
    inner = tool.fn
    assert inner is not None

    async def timed_call(value: Any, ctx: ToolContext) -> Any:
        return await timed(
            inner(value, ctx),
            observer,
            lambda seconds, outcome: ToolCalled(tool=tool.name, seconds=seconds, outcome=outcome),
        )

    wrapped = copy.copy(tool)
    wrapped.fn = timed_call
    return wrapped
