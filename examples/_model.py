"""Model selection shared by the examples: offline by default, Gemini when a key is set.

Each example brings a scripted stand-in for the LLM, so it runs with no key and no network.
With ``GEMINI_API_KEY`` set, the same example talks to Gemini instead (``GEMINI_MODEL`` picks
which one), and the script is ignored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from intermission import Message, Model, ModelRequest, ScriptedModel, ToolResponsePart

Script = Sequence[Message | str] | Callable[[ModelRequest], Message | str]


def example_model(script: Script) -> Model:
    """The scripted model, unless ``GEMINI_API_KEY`` asks for the real one."""
    if os.environ.get("GEMINI_API_KEY"):
        # Imported lazily: only runs that want Gemini need its adapter.
        from intermission import GeminiModel

        model: Model = GeminiModel(os.environ.get("GEMINI_MODEL", "gemini-2.5-flash"))
        return model
    return ScriptedModel(script)


def tool_outputs(request: ModelRequest) -> list[Any]:
    """What the tools answered just before this model turn; [] when the turn starts fresh.

    Scripts reply from these, so a final answer like "You chose X" proves X reached the model.
    """
    last = request.messages[-1]
    if last.role != "tool":
        return []
    return [part.tool_response.output for part in last.content if isinstance(part, ToolResponsePart)]


def all_tool_outputs(request: ModelRequest) -> list[Any]:
    """Every tool answer in the history, oldest first: for scripts that ask over several turns."""
    return [
        part.tool_response.output
        for message in request.messages
        if message.role == "tool"
        for part in message.content
        if isinstance(part, ToolResponsePart)
    ]
