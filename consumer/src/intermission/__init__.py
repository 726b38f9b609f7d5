"""Intermission: Genkit-style interrupts for Python generations, resumable in any process.

ai = Intermission(model=GeminiModel("gemini-2.5-flash"))
ask = ai.define_interrupt(name="askQuestion", description="...", output_schema=str)
response = await ai.generate(prompt="Ask me a movie trivia question.", tools=[ask])
if response.finish_reason == "interrupted":
    answer = ask.respond(response.interrupts[0], "Casablanca")
    response = await ai.generate(messages=response.messages, tools=[ask],
                                 resume=Resume(respond=[answer]))
"""

from typing import TYPE_CHECKING, Any

from intermission_schemas import Message, ToolRequestPart, ToolResponsePart

from ._app import Intermission
from ._chat import Chat
from ._middleware import Middleware, ModelNext, ToolNext
from ._model import FinishReason, Model, ModelChunk, ModelRequest, ModelResponse, Usage
from ._prompts import Prompt
from ._response import GenerateResponse, Resume
from ._scripted import ScriptedModel, reply, tool_call
from ._stream import GenerateStream
from ._tools import Tool, ToolContext
from .errors import (
    IntermissionError,
    MaxTurnsError,
    ModelError,
    ModelUnavailableError,
    RateLimitedError,
    ResumeError,
    SchemaError,
    ToolError,
    ToolInterrupt,
    UnknownToolError,
    UsageError,
)

if TYPE_CHECKING:
    from ._gemini import GeminiModel, RetryPolicy


def __getattr__(name: str) -> Any:
    # The Gemini adapter imports google-genai, which takes longer to import than the rest of
    # Intermission together: only code that uses it pays for it.
    if name in ("GeminiModel", "RetryPolicy"):
        from . import _gemini

        return getattr(_gemini, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Chat",
    "FinishReason",
    "GeminiModel",
    "GenerateResponse",
    "GenerateStream",
    "Intermission",
    "IntermissionError",
    "MaxTurnsError",
    "Message",
    "Middleware",
    "Model",
    "ModelChunk",
    "ModelError",
    "ModelNext",
    "ModelRequest",
    "ModelResponse",
    "ModelUnavailableError",
    "Prompt",
    "RateLimitedError",
    "Resume",
    "ResumeError",
    "RetryPolicy",
    "SchemaError",
    "ScriptedModel",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolInterrupt",
    "ToolNext",
    "ToolRequestPart",
    "ToolResponsePart",
    "UnknownToolError",
    "Usage",
    "UsageError",
    "reply",
    "tool_call",
]
