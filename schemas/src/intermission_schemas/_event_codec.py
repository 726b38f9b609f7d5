"""Decoders for each topic's union, built once, with a typed reason when bytes do not fit."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeAlias, TypeVar

import msgspec

from ._bounds import request_schema_problem
from ._codec import DecodeError
from ._events import (
    EVENT_VERSION,
    DeadLetter,
    GenerateRequest,
    InterruptRaised,
    ResultEvent,
    ResumeRequested,
    RunResult,
)

T = TypeVar("T")
FailureReason: TypeAlias = Literal[
    "undecodable", "unknown_event", "invalid_fields", "unsupported_version", "schema_too_complex"
]

_TAG_PATH = re.compile(r"at `\$\.type`$")

# Deeper JSON than any event needs; it would otherwise reach recursion limits in the code that
# handles the decoded values (msgspec's own limit is far higher).
MAX_NESTING = 64
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def _nesting_exceeds(data: bytes, limit: int) -> bool:
    """True when ``data`` nests arrays and objects deeper than ``limit``. Every step is a C-speed
    pass: strings out, everything but brackets out, then innermost pairs out once per level."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _STRINGS.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        brackets = _INNERMOST.sub(b"", brackets)
        if not brackets:
            return False
    return bool(brackets)


class _VersionOnly(msgspec.Struct):
    version: Any = EVENT_VERSION


class EventDecodeError(DecodeError):
    """Bytes that are not an event of the topic; ``reason`` says which way they are not."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: FailureReason = reason
        self.detail = detail


class _TopicDecoder(Generic[T]):
    """Decodes one topic's records, telling why bytes are not an event of the topic."""

    def __init__(self, type_: type[T] | Any, check: Callable[[T], str | None] = lambda _: None) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)
        self._check = check

    def __call__(self, data: bytes) -> T:
        if _nesting_exceeds(data, MAX_NESTING):
            raise EventDecodeError("invalid_fields", f"JSON nested deeper than {MAX_NESTING} levels")
        try:
            event = self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            _refuse_newer_version(data)
            text = str(exc)
            if _TAG_PATH.search(text) or text.startswith("Object missing required field `type`"):
                raise EventDecodeError("unknown_event", text) from exc
            raise EventDecodeError("invalid_fields", text) from exc
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            # msgspec raises UnicodeDecodeError, not its DecodeError, for invalid UTF-8 inside
            # a string (Latin-1 text, lone surrogates, overlong forms): bytes that do not decode.
            raise EventDecodeError("undecodable", str(exc)) from exc
        except RecursionError as exc:  # msgspec's own depth limit, on a cheap-to-count input
            raise EventDecodeError("invalid_fields", "JSON nested too deeply") from exc
        _refuse_newer_version(data, getattr(event, "version", EVENT_VERSION))
        problem = self._check(event)
        if problem is not None:
            raise EventDecodeError("invalid_fields", problem)
        return event


def _refuse_newer_version(data: bytes, version: Any = None) -> None:
    """A record of a version this reader does not know is never run as if it were one it does:
    its new fields could change what it means."""
    if version is None:
        try:
            version = _version_only.decode(data).version
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
            return
    if isinstance(version, int) and not isinstance(version, bool) and version > EVENT_VERSION:
        raise EventDecodeError(
            "unsupported_version", f"event version {version} is newer than this reader ({EVENT_VERSION})"
        )


_version_only = msgspec.json.Decoder(_VersionOnly)


def _answers_something(event: ResumeRequested) -> str | None:
    return None if event.respond or event.restart else "a resume must answer at least one ref"


class _DocumentDecoder(Generic[T]):
    """Decodes a stored document (a snapshot, a run's result); DecodeError names what it is not."""

    def __init__(self, type_: type[T], what: str) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)
        self._what = what

    def __call__(self, data: bytes) -> T:
        try:
            return self._decoder.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise DecodeError(f"not {self._what}: {exc}") from exc


def _bounded_schemas(event: GenerateRequest) -> str | None:
    problem = request_schema_problem(event.interrupts)
    if problem is not None:
        raise EventDecodeError("schema_too_complex", problem)
    return None


decode_request: Callable[[bytes], GenerateRequest] = _TopicDecoder(GenerateRequest, _bounded_schemas)
decode_approval: Callable[[bytes], InterruptRaised] = _TopicDecoder(InterruptRaised)
decode_resume: Callable[[bytes], ResumeRequested] = _TopicDecoder(ResumeRequested, _answers_something)
decode_result: Callable[[bytes], ResultEvent] = _TopicDecoder(ResultEvent)
decode_dead_letter: Callable[[bytes], DeadLetter] = _TopicDecoder(DeadLetter)
decode_run_result: Callable[[bytes], RunResult] = _DocumentDecoder(RunResult, "a run result")
