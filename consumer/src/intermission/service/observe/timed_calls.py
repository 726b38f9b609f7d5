"""The model and the tools of a step, timed: the engine's `Middleware`, placed inside the journal,
so a reply or an output read back from the journal is not counted as a call: the histograms show
what the model and the tools cost, not what a replay saved.
"""

from __future__ import annotations

from typing import Any

from ..._middleware import Middleware, ModelNext, ToolNext
from ..._model import ModelRequest, ModelResponse
from ..._tools import Tool, ToolContext
from .events import ModelCalled, ToolCalled
from .observer import Observer
from .timed_ports import timed

__all__ = ["Timing"]


class Timing(Middleware):
    """A `ModelCalled` per model call and a `ToolCalled` per tool call, with their seconds."""

    def __init__(self, observer: Observer) -> None:
        self.observer = observer

    async def model(self, request: ModelRequest, call_next: ModelNext) -> ModelResponse:
        return await timed(
            call_next(request),
            self.observer,
            lambda seconds, outcome: ModelCalled(seconds=seconds, outcome=outcome),
        )

    async def tool(self, tool: Tool, value: Any, ctx: ToolContext, call_next: ToolNext) -> Any:
        return await timed(
            call_next(value, ctx),
            self.observer,
            lambda seconds, outcome: ToolCalled(tool=tool.name, seconds=seconds, outcome=outcome),
        )
