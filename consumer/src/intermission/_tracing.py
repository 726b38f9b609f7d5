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
from typing import TYPE_CHECKING, Any

from ._model import ModelResponse

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

__all__ = ["model_call_span", "note_pause", "note_reply", "recording", "tool_call_span"]

_NO_SPAN: AbstractContextManager[None] = contextlib.nullcontext()


@functools.cache
def _api() -> tuple[Callable[[], object], type, Tracer]:
    from opentelemetry import trace

    return trace.get_tracer_provider, trace.ProxyTracerProvider, trace.get_tracer("intermission")


class _Installed:
    """Whether an SDK is installed, decided without touching the environment on the hot path.

    The API's ``get_tracer_provider()`` looks in ``os.environ`` on every call until a provider
    is set, and the engine asked four times a cycle. A provider, once set, is never replaced
    (the API allows one), so a yes is kept for good. Until then the API's own global is read:
    it is set by ``set_tracer_provider`` and by the API itself when ``get_tracer_provider()``
    loads the provider its environment names, which is asked once, on the first check.
    """

    __slots__ = ("module", "yes")

    def __init__(self) -> None:
        self.yes = False
        self.module: Any = None

    def check(self) -> bool:
        """Ask the API (recording() has answered the usual no without a call)."""
        provider, no_sdk, _ = _api()
        if self.module is None:
            from opentelemetry import trace

            # An API without the global (a future release) is asked every time, as before.
            self.module = trace if hasattr(trace, "_TRACER_PROVIDER") else False
        # The first call also loads a provider named in the environment, as the API would.
        self.yes = not isinstance(provider(), no_sdk)
        return self.yes


_installed = _Installed()


def recording() -> bool:
    """Whether an SDK (any real tracer provider) is installed, so that spans are recorded."""
    if _installed.yes:
        return True
    module = _installed.module
    if module and module._TRACER_PROVIDER is None:
        return False  # the usual answer without an SDK, with no further call
    return _installed.check()


def model_call_span() -> AbstractContextManager[Span | None]:
    if not recording():
        return _NO_SPAN  # no SDK installed: nothing would record it
    return _api()[2].start_as_current_span("chat", attributes={"gen_ai.operation.name": "chat"})


def tool_call_span(name: str, ref: str | None) -> AbstractContextManager[Span | None]:
    if not recording():
        return _NO_SPAN
    attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": name}
    if ref is not None:
        attributes["gen_ai.tool.call.id"] = ref
    return _api()[2].start_as_current_span(f"execute_tool {name}", attributes=attributes)


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
