"""Every error Intermission raises, in one small tree.

IntermissionError                 base of all errors below
├── UsageError                    misuse or configuration: fix the calling code
│   ├── UnknownToolError          a tool, interrupt, prompt or model name not registered
│   └── SchemaError               a value does not match a schema; `.field` names where
├── ModelError                    the model failed at run time
│   ├── RateLimitedError          429 after retries
│   └── ModelUnavailableError     5xx or transport failure after retries
├── ToolError                     a tool raised; the original is the __cause__
├── MaxTurnsError                 the model kept calling tools past max_turns
└── ResumeError                   a resume does not fit the paused generation; `.code` says how:
                                  unknown_ref, missing_answer, duplicate_answer,
                                  invalid_output, invalid_input, not_restartable,
                                  not_interrupted, undecodable (stored pause or chat state
                                  bytes that do not decode); `.field` names a bad field

ToolInterrupt (BaseException)     control flow, not an error: raised by ctx.interrupt() inside a
                                  tool, caught by the engine, turned into a pause. It derives
                                  from BaseException so a tool's `except Exception` cannot
                                  swallow it.
"""

from __future__ import annotations

from typing import Any, Literal

ResumeErrorCode = Literal[
    "unknown_ref",
    "missing_answer",
    "duplicate_answer",
    "invalid_output",
    "invalid_input",
    "not_restartable",
    "not_interrupted",
    "undecodable",
]


class IntermissionError(Exception):
    """Base of every error Intermission raises."""


class UsageError(IntermissionError):
    """The calling code or configuration is wrong."""


class UnknownToolError(UsageError):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"unknown {kind} {name!r}: it is not registered")
        self.kind = kind
        self.name = name


class SchemaError(UsageError):
    """A value failed validation. ``field`` is a dotted path ("choices.0"), "" for the root."""

    def __init__(self, what: str, field: str, problem: str) -> None:
        where = f"field {field!r}" if field else "the value"
        super().__init__(f"{what}: {where} is invalid ({problem})")
        self.what = what
        self.field = field
        self.problem = problem


class ModelError(IntermissionError):
    """The model failed at run time."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimitedError(ModelError):
    pass


class ModelUnavailableError(ModelError):
    pass


class ToolError(IntermissionError):
    def __init__(self, tool: str, ref: str | None) -> None:
        super().__init__(f"tool {tool!r} (ref {ref}) failed")
        self.tool = tool
        self.ref = ref


class MaxTurnsError(IntermissionError):
    def __init__(self, max_turns: int) -> None:
        super().__init__(f"the model was still calling tools after {max_turns} turns")
        self.max_turns = max_turns


class ResumeError(IntermissionError):
    def __init__(
        self,
        code: ResumeErrorCode,
        message: str,
        *,
        ref: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ResumeErrorCode = code
        self.ref = ref
        self.field = field


class ToolInterrupt(BaseException):
    """Raised by ``ctx.interrupt()``; the engine turns it into a pause."""

    def __init__(self, metadata: Any = None) -> None:
        super().__init__("tool interrupted")
        self.metadata = metadata


__all__ = [
    "IntermissionError",
    "MaxTurnsError",
    "ModelError",
    "ModelUnavailableError",
    "RateLimitedError",
    "ResumeError",
    "ResumeErrorCode",
    "SchemaError",
    "ToolError",
    "ToolInterrupt",
    "UnknownToolError",
    "UsageError",
]
