"""The registry: models, tools, interrupts and prompts, and the calls that use them."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, get_type_hints, overload

from intermission_schemas import (
    ChatState,
    DecodeError,
    Message,
    Part,
    PausedGeneration,
    TextPart,
    decode_chat_state,
    decode_paused,
    pending_interrupts,
)

from ._chat import Chat
from ._generate import Generation
from ._middleware import Middleware
from ._model import ChunkCallback, Model
from ._prompts import Prompt, load_prompt_dir
from ._response import GenerateResponse, Resume
from ._schema import schema_of
from ._stream import GenerateStream
from ._tools import Tool, ToolFunction
from .errors import ResumeError, UnknownToolError, UsageError

F = TypeVar("F", bound=ToolFunction)


class Intermission:
    """Python's ``genkit()``: ``ai = Intermission(model=..., prompt_dir="prompts")``."""

    def __init__(
        self,
        *,
        model: Model | None = None,
        prompt_dir: str | Path | None = None,
        models: Mapping[str, Model] | None = None,
    ) -> None:
        self.model = model
        self._models: dict[str, Model] = dict(models or {})
        self._tools: dict[str, Tool] = {}
        self._dotprompt: Any = None
        self._prompts: dict[str, Prompt] = {}
        if prompt_dir is not None:
            self._prompts.update(load_prompt_dir(self, Path(prompt_dir)))

    @property
    def dotprompt(self) -> Any:
        """The dotpromptz renderer, created (and dotpromptz imported) when a prompt first needs
        it: apps without prompts never pay for the import."""
        if self._dotprompt is None:
            from dotpromptz import Dotprompt

            self._dotprompt = Dotprompt()
        return self._dotprompt

    # -- registration -----------------------------------------------------------------------

    def define_model(self, name: str, model: Model) -> Model:
        self._models[name] = model
        return model

    def define_interrupt(
        self,
        *,
        name: str,
        description: str,
        input_schema: Any = None,
        output_schema: Any = None,
    ) -> Tool:
        """A tool that always pauses; answer it with ``tool.respond(interrupt, output)``."""
        return self._register(
            Tool(
                name=name,
                description=description,
                input_schema=input_schema,
                output_schema=output_schema,
            )
        )

    @overload
    def define_tool(
        self,
        fn: None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        replay_safe: bool = False,
    ) -> Callable[[F], Tool]: ...

    @overload
    def define_tool(
        self,
        fn: ToolFunction,
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        replay_safe: bool = False,
    ) -> Tool: ...

    def define_tool(
        self,
        fn: ToolFunction | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        input_schema: Any = None,
        output_schema: Any = None,
        replay_safe: bool = False,
    ) -> Tool | Callable[[F], Tool]:
        """``async def fn(input, ctx)``; schemas default to the function's annotations.

        ``replay_safe=True`` declares that the tool has no outside effect, so a replay of a
        stored run (``intermission replay``) may run it again; otherwise a replay hands back
        the output the run recorded, unless the replay allows effects.

        Works as a call, ``ai.define_tool(fn, name=...)``, or as a decorator,
        ``@ai.define_tool(description=...)``.
        """

        def define(function: ToolFunction) -> Tool:
            if isinstance(function, Tool):
                raise UsageError(
                    f"define_tool was given the Tool {function.name!r}, which is already a tool: "
                    "give define_tool its async function, or pass the Tool to generate(tools=[...])"
                )
            if not inspect.iscoroutinefunction(function):
                what = getattr(function, "__name__", None) or repr(function)
                raise UsageError(f"tool {what!r} must be an async function: `async def {what}(input, ctx)`")
            hints = _annotations(function)
            return self._register(
                Tool(
                    name=name or function.__name__,
                    description=description or inspect.getdoc(function) or "",
                    input_schema=input_schema if input_schema is not None else hints[0],
                    output_schema=output_schema if output_schema is not None else hints[1],
                    fn=function,
                    replay_safe=replay_safe,
                )
            )

        return define if fn is None else define(fn)

    def define_prompt(
        self,
        *,
        name: str,
        prompt: str,
        system: str | None = None,
        tools: Sequence[Tool | str] = (),
        input_schema: Any = None,
        output_schema: Any = None,
        config: dict[str, Any] | None = None,
        model: str | None = None,
    ) -> Prompt:
        """A prompt from Handlebars templates; ``{{subject}}`` reads the input."""
        # No newlines around the templates: Genkit JS renders `system` and `prompt` as given.
        source = f'{{{{role "system"}}}}{system}{{{{role "user"}}}}{prompt}' if system else prompt
        defined = Prompt(
            self,
            name=name,
            source=source,
            tools=tools,
            input_schema=input_schema,
            output_schema=output_schema,
            config=config,
            model=model,
        )
        self._prompts[name] = defined
        return defined

    def prompt(self, name: str) -> Prompt:
        """A prompt defined in code or loaded from ``prompt_dir`` (``partyPlanner.prompt``)."""
        found = self._prompts.get(name)
        if found is None:
            raise UnknownToolError("prompt", name)
        return found

    def registered_model(self, name: str) -> Model | None:
        """The model registered as ``name`` with ``define_model`` (or ``models=``), if any."""
        return self._models.get(name)

    def resolve_model(self, model: Model | str | None) -> Model:
        """The model a generate(model=...) call would use: the app's default for None, a
        registered one for a name (UnknownToolError if there is none)."""
        return self._model(model)

    @property
    def tool_names(self) -> list[str]:
        """The names of every tool and interrupt defined on this app, sorted."""
        return sorted(self._tools)

    def tool(self, name: str) -> Tool:
        found = self._tools.get(name)
        if found is None:
            raise UnknownToolError("tool", name)
        return found

    def _register(self, tool: Tool) -> Tool:
        if tool.name in self._tools:
            raise UsageError(f"a tool named {tool.name!r} is already defined")
        self._tools[tool.name] = tool
        return tool

    # -- generation -------------------------------------------------------------------------

    async def generate(
        self,
        *,
        prompt: str | Sequence[Part] | None = None,
        system: str | None = None,
        messages: Sequence[Message] | None = None,
        tools: Sequence[Tool | str] = (),
        resume: Resume | None = None,
        context: Mapping[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        max_turns: int = 5,
        output_schema: Any = None,
        model: Model | str | None = None,
        on_chunk: ChunkCallback | None = None,
        use: Sequence[Middleware] = (),
    ) -> GenerateResponse:
        """Run the model/tool loop until the model answers or a tool interrupts. ``use``: hooks
        around every model and tool call of this generation (`Middleware`), the first outermost."""
        history = list(messages or [])
        if resume is not None and prompt is not None:
            raise UsageError("a resume continues the given messages; do not pass a prompt too")
        if system is not None and not any(m.role == "system" for m in history):
            history.insert(0, Message(role="system", content=[TextPart(system)]))
        if prompt is not None:
            content: list[Part] = [TextPart(prompt)] if isinstance(prompt, str) else list(prompt)
            history.append(Message(role="user", content=content))
        if not history:
            raise UsageError("generate() needs a prompt or messages")
        resolved: dict[str, Tool] = {}
        for tool in tools:
            if isinstance(tool, str):
                tool = self.tool(tool)
            resolved[tool.name] = tool
        generation = Generation(  # by position, as Generation.__init__ says why
            self.model if model is None and self.model is not None else self._model(model),
            resolved,
            context or {},
            config,
            schema_of(output_schema) if output_schema is not None else None,
            max_turns,
            on_chunk,
            use,
        )
        return await generation.run(history, resume)

    def generate_stream(self, **options: Any) -> GenerateStream:
        """Like generate(), streaming model chunks; see GenerateStream."""

        async def start(on_chunk: ChunkCallback) -> GenerateResponse:
            return await self.generate(on_chunk=on_chunk, **options)

        return GenerateStream(start)

    def chat(
        self,
        *,
        system: str | None = None,
        tools: Sequence[Tool | str] = (),
        config: dict[str, Any] | None = None,
        state: ChatState | bytes | None = None,
    ) -> Chat:
        """A new chat, or one restored from ``chat.state`` / ``chat.to_bytes()``."""
        if state is None:
            return Chat(self, system=system, tools=tools, messages=[], config=config)
        if isinstance(state, bytes | bytearray | memoryview):
            try:
                state = decode_chat_state(bytes(state))
            except DecodeError as exc:
                raise ResumeError("undecodable", f"not a stored chat state: {exc}") from exc
        _check_pending(state.messages, state.interrupts)
        for name in state.tools:
            self.tool(name)
        return Chat(
            self,
            system=state.system,
            tools=state.tools,
            messages=list(state.messages),
            config=state.config,
        )

    @staticmethod
    def load_paused(data: bytes) -> PausedGeneration:
        """Decode a stored pause and check its interrupt list against its history.

        Reads what ``encode(response.to_paused())`` wrote, in any schema version. Raises
        ResumeError (``undecodable``) for bytes that are not one, ``not_interrupted`` when its
        interrupt list disagrees with its history. For a history Genkit wrote
        (``response.messages`` as JSON), use ``decode_messages`` and pass it as ``messages``.
        """
        try:
            paused = decode_paused(data)
        except DecodeError as exc:
            raise ResumeError("undecodable", f"not a stored pause: {exc}") from exc
        _check_pending(paused.messages, paused.interrupts)
        return paused

    def _model(self, model: Model | str | None) -> Model:
        if model is None:
            if self.model is None:
                raise UsageError("no model: pass model= to Intermission() or to this call")
            return self.model
        if isinstance(model, str):
            found = self._models.get(model)
            if found is None:
                raise UnknownToolError("model", model)
            return found
        return model


def _check_pending(messages: Sequence[Message], interrupts: Sequence[Any]) -> None:
    """A stored interrupt list must be exactly what the history says is pending."""
    if list(interrupts) != pending_interrupts(messages):
        raise ResumeError(
            "not_interrupted",
            "the stored interrupts do not match the pending requests in the history",
        )


def _annotations(function: Callable[..., Any]) -> tuple[Any, Any]:
    """The input and output types a tool function declares, or (None, None)."""
    try:
        hints = get_type_hints(function)
    except (NameError, TypeError) as exc:
        # Guessing "no schema" here would hand the tool raw dicts it does not expect.
        raise UsageError(
            f"cannot resolve the annotations of tool {function.__name__!r} ({exc}); "
            "pass input_schema= and output_schema= explicitly"
        ) from exc
    parameters = list(inspect.signature(function).parameters)
    input_type = hints.get(parameters[0]) if parameters else None
    return input_type, hints.get("return")
