"""Spans around the engine's model calls and tool calls, at next to no cost without an SDK.

Names and attributes follow OpenTelemetry's GenAI conventions: a model call is ``chat``
(``gen_ai.operation.name``), a tool call ``execute_tool {name}`` with ``gen_ai.tool.name`` and
``gen_ai.tool.call.id`` (the ref). A tool that pauses is not a failure: its span says
``intermission.tool.paused``. An exception ends a span with an error status.

The engine may run many short cycles in a process with no OpenTelemetry SDK. The global tracer
provider is then the API's proxy and nothing would be recorded, so no span is started at all
(a check of about a microsecond, where a no-op span costs eight). The API is imported on first
use, not with ``intermission``, so importing the engine costs what it did.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from ._model import ModelResponse

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["model_call_span", "note_pause", "note_reply", "recording", "tool_call_span"]

_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()


@functools.cache
def _api() -> tuple[Callable[[], object], type, Tracer]:
    from opentelemetry import trace

    return trace.get_tracer_provider, trace.ProxyTracerProvider, trace.get_tracer("intermission")


def recording() -> bool:
    """Whether an SDK (any real tracer provider) is installed, so that spans are recorded."""
    provider, no_sdk, _ = _api()
    return not isinstance(provider(), no_sdk)


def _span(name: str, attributes: dict[str, str]) -> AbstractContextManager[Span | None]:
    if not recording():
        return _NO_SPAN  # no SDK installed: nothing would record it
    return _api()[2].start_as_current_span(name, attributes=attributes)


def model_call_span() -> AbstractContextManager[Span | None]:
    return _span("chat", {"gen_ai.operation.name": "chat"})


def tool_call_span(name: str, ref: str | None) -> AbstractContextManager[Span | None]:
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    if ref is not None:
        attributes["gen_ai.tool.call.id"] = ref
    return _span(f"execute_tool {name}", attributes)


def note_reply(span: Span | None, reply: ModelResponse) -> None:
    if span is None:
        return
    span.set_attribute("gen_ai.response.finish_reasons", [reply.finish_reason])
    usage = reply.usage
    if usage is not None and usage.input_tokens is not None:
        span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
    if usage is not None and usage.output_tokens is not None:
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)


def note_pause(span: Span | None) -> None:
    if span is not None:
        span.set_attribute("intermission.tool.paused", True)
