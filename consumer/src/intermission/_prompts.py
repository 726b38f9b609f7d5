"""Prompts: templates rendered by dotpromptz, defined in code or loaded from .prompt files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from intermission_schemas import Message, Part, TextPart

from ._response import GenerateResponse, Resume
from ._schema import JsonSchema, Schema, schema_of
from ._stream import GenerateStream
from ._tools import Tool
from .errors import SchemaError, UsageError

if TYPE_CHECKING:
    from ._app import Intermission


class Prompt:
    """A callable prompt: ``await prompt(input)`` renders it and generates.

    To resume, pass the paused history and the answers: ``await prompt(messages=..., resume=...)``,
    or Genkit's call shape ``await prompt(input, messages=..., resume=...)``. A resume never
    renders the template again, so the user message is not appended twice (Genkit issue #4652
    does that and breaks the resume); the input, if given, is only checked against the schema.
    """

    def __init__(
        self,
        ai: Intermission,
        *,
        name: str,
        source: str,
        tools: Sequence[Tool | str] = (),
        input_schema: Any = None,
        output_schema: Any = None,
        config: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> None:
        self._ai = ai
        self.name = name
        self._source = source
        self._tools = list(tools)
        self._input: Schema | None = schema_of(input_schema) if input_schema is not None else None
        self._output: Any = output_schema
        self._config = config
        self._model = model
        self._compiled: Any = None

    async def _prepare(self, dotprompt: Any) -> Any:
        """Compile once; take tools, schemas, config and model from the front matter."""
        if self._compiled is None:
            metadata: Any = await dotprompt.render_metadata(self._source)
            if metadata.tools and not self._tools:
                self._tools = list(metadata.tools)
            if self._input is None and metadata.input is not None and metadata.input.schema:
                self._input = JsonSchema(dict(metadata.input.schema))
            if self._output is None and metadata.output is not None and metadata.output.schema:
                self._output = dict(metadata.output.schema)
            if self._config is None and metadata.config:
                self._config = dict(metadata.config)
            if self._model is None and metadata.model:
                self._model = metadata.model
            self._compiled = await dotprompt.compile(self._source)
        return self._compiled

    async def tool_names(self) -> list[str]:
        """The tools this prompt offers, from its definition or its front matter."""
        await self._prepare(self._ai.dotprompt)
        return [t if isinstance(t, str) else t.name for t in self._tools]

    async def render(self, input: Any = None) -> list[Message]:
        render = await self._prepare(self._ai.dotprompt)
        value = self._input.validate(input, f"input of prompt {self.name!r}") if self._input else input
        data = self._input.dump(value) if self._input else value
        from dotpromptz import DataArgument

        rendered = await render(DataArgument(input=data or {}))
        return [_message(m) for m in rendered.messages]

    async def __call__(
        self,
        input: Any = None,
        *,
        messages: list[Message] | None = None,
        resume: Resume | None = None,
        context: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        max_turns: int = 5,
    ) -> GenerateResponse:
        options = await self.options(input, messages, resume, config)
        return await self._ai.generate(context=context, max_turns=max_turns, **options)

    def stream(
        self,
        input: Any = None,
        *,
        messages: list[Message] | None = None,
        resume: Resume | None = None,
        context: dict[str, Any] | None = None,
    ) -> GenerateStream:
        async def start(on_chunk: Any) -> GenerateResponse:
            options = await self.options(input, messages, resume, None)
            return await self._ai.generate(context=context, on_chunk=on_chunk, **options)

        return GenerateStream(start)

    async def defaults(self, config: dict[str, Any] | None = None) -> PromptDefaults:
        """What every generation of this prompt uses besides its messages: its tools, its config
        (with ``config`` on top), its output schema and its model."""
        await self._prepare(self._ai.dotprompt)
        return PromptDefaults(
            tools=tuple(self._tools),
            config={**(self._config or {}), **(config or {})} or None,
            output_schema=self._output,
            model=self._model,
        )

    async def history(self, input: Any, messages: list[Message] | None = None) -> list[Message]:
        """The messages a first call starts from: ``messages`` with the rendered turn spliced in."""
        rendered = await self.render(input)
        return _splice(rendered, messages or [])

    async def options(
        self,
        input: Any,
        messages: list[Message] | None,
        resume: Resume | None,
        config: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """The keyword arguments of ``Intermission.generate`` this call would use."""
        if resume is not None:
            if not messages:
                raise UsageError(f"resuming prompt {self.name!r} needs the paused messages")
            await self._prepare(self._ai.dotprompt)
            if input is not None and self._input is not None:
                # Genkit passes the input again when resuming; it is already in the history.
                self._input.validate(input, f"input of prompt {self.name!r}")
            history = list(messages)
        else:
            history = await self.history(input, messages)
        defaults = await self.defaults(config)
        return {
            "messages": history,
            "resume": resume,
            "tools": defaults.tools,
            "config": defaults.config,
            "output_schema": defaults.output_schema,
            "model": defaults.model,
        }


@dataclass(frozen=True, slots=True)
class PromptDefaults:
    tools: tuple[Tool | str, ...]
    config: dict[str, Any] | None
    output_schema: Any
    model: str | None


def _splice(rendered: list[Message], history: list[Message]) -> list[Message]:
    """System messages first, then earlier history, then the newly rendered turn."""
    if not history:
        return rendered
    system = [m for m in rendered if m.role == "system"]
    rest = [m for m in rendered if m.role != "system"]
    return [*system, *(m for m in history if m.role != "system"), *rest]


def _message(rendered: Any) -> Message:
    parts: list[Part] = []
    for part in rendered.content:
        text = getattr(part, "text", None)
        if text is None:
            raise SchemaError(f"rendered part {type(part).__name__}", "", "is not supported yet")
        if text.strip():
            # Kept as rendered, newlines included: Genkit JS's dotprompt renders the same text.
            parts.append(TextPart(text))
    return Message(role=str(getattr(rendered.role, "value", rendered.role)), content=parts)  # type: ignore[arg-type]


def load_prompt_dir(ai: Intermission, directory: Path) -> dict[str, Prompt]:
    """Every ``*.prompt`` file below ``directory``, named by its path without the suffix."""
    if not directory.is_dir():
        raise UsageError(f"prompt_dir {str(directory)!r} is not a directory")
    prompts: dict[str, Prompt] = {}
    for path in sorted(directory.rglob("*.prompt")):
        name = path.relative_to(directory).with_suffix("").as_posix()
        prompts[name] = Prompt(ai, name=name, source=path.read_text(encoding="utf-8"))
    return prompts
