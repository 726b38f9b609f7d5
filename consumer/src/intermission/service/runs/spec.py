"""What a run's generations need, built once from its GenerateRequest.

The first run, every resume and every expiry of a run generate with the same model, tools,
output schema, config and context. Building them in one place means a resume cannot quietly
drop what the first run had (a prompt's own model, output schema and config).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from intermission_schemas import GenerateRequest, Message, TextPart, encode

from ..._app import Intermission
from ..._middleware import Middleware
from ..._response import GenerateResponse, Resume
from ..._tools import Tool
from ...errors import UnknownToolError
from ..observe.observer import NO_OBSERVER, Observer
from ..observe.timed_calls import Timing
from .journal import Journal

__all__ = ["RunSpec", "RunSpecs"]

_INLINE_CACHE_LIMIT = 1024


@dataclass(frozen=True, slots=True)
class RunSpec:
    request: GenerateRequest
    tools: Mapping[str, Tool]  # the request's, its inline interrupts, and its prompt's
    model: str | None  # a model registered by name (a prompt's), or None for the app's own
    output_schema: Any
    config: dict[str, Any] | None
    context: Mapping[str, Any]

    @property
    def run_id(self) -> str:
        return self.request.run_id

    def tool(self, name: str) -> Tool:
        found = self.tools.get(name)
        if found is None:
            raise UnknownToolError("tool", name)
        return found

    async def generate(
        self,
        ai: Intermission,
        messages: Sequence[Message],
        resume: Resume | None,
        journal: Journal,
        observer: Observer = NO_OBSERVER,
        use: Sequence[Middleware] = (),
    ) -> GenerateResponse:
        """Generate with every model reply and tool output of the step journaled, each call the
        journal lets through timed, and ``use`` (a replay's hooks) inside both."""
        hooks: list[Middleware] = [journal] if observer is NO_OBSERVER else [journal, Timing(observer)]
        return await ai.generate(
            messages=messages,
            resume=resume,
            tools=list(self.tools.values()),
            context=self.context,
            config=self.config,
            max_turns=self.request.max_turns,
            output_schema=self.output_schema,
            model=ai.resolve_model(self.model),
            use=[*hooks, *use],
        )


class RunSpecs:
    """Builds specs against one app. Inline interrupts become Tools once per distinct
    definition, since the same few arrive with request after request."""

    def __init__(self, ai: Intermission) -> None:
        self.ai = ai
        self._inline: dict[bytes, Tool] = {}

    async def of(self, request: GenerateRequest) -> RunSpec:
        """Raises UnknownToolError for a tool or prompt the app does not have."""
        tools: dict[str, Tool] = {}
        for name in request.tools:
            tools[name] = self.ai.tool(name)
        for definition in request.interrupts:
            if definition.name in tools:
                raise UnknownToolError("inline interrupt (name clash)", definition.name)
            tools[definition.name] = self._inline_tool(definition)
        model: str | None = None
        output_schema: Any = None
        config = request.config
        if request.prompt is not None:
            defaults = await self.ai.prompt(request.prompt).defaults(request.config)
            for tool in defaults.tools:
                resolved = self.ai.tool(tool) if isinstance(tool, str) else tool
                tools.setdefault(resolved.name, resolved)
            model, output_schema, config = defaults.model, defaults.output_schema, defaults.config
        # Tools with outside effects key them on (run_id, ctx.ref): a resume that is retried
        # after a crash may run the tool again, and the key lets the tool make that a no-op.
        context = {**request.context, "run_id": request.run_id, "tags": request.tags}
        return RunSpec(
            request=request,
            tools=tools,
            model=model,
            output_schema=output_schema,
            config=config,
            context=context,
        )

    async def first_messages(self, request: GenerateRequest) -> list[Message]:
        """The history a run starts from: its prompt rendered, or its own messages."""
        if request.prompt is not None:
            return await self.ai.prompt(request.prompt).history(request.input, list(request.messages))
        messages = list(request.messages)
        if request.system is not None and not any(m.role == "system" for m in messages):
            messages.insert(0, Message(role="system", content=[TextPart(request.system)]))
        return messages

    def _inline_tool(self, definition: Any) -> Tool:
        cache_key = encode(definition)
        tool = self._inline.get(cache_key)
        if tool is None:
            tool = Tool(
                name=definition.name,
                description=definition.description,
                input_schema=definition.input_schema,
                output_schema=definition.output_schema,
            )
            if len(self._inline) >= _INLINE_CACHE_LIMIT:
                self._inline.clear()
            self._inline[cache_key] = tool
        return tool
