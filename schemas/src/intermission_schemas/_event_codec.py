"""Decoders for each topic's union, built once, with a typed reason when bytes do not fit."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeAlias, TypeVar

import msgspec

from ._codec import DecodeError
from ._events import (
    DeadLetter,
    GenerateRequest,
    InterruptRaised,
    ResultEvent,
    ResumeRequested,
    RunResult,
    Snapshot,
)

T = TypeVar("T")
FailureReason: TypeAlias = Literal["undecodable", "unknown_event", "invalid_fields"]

_TAG_PATH = re.compile(r"at `\$\.type`$")


class EventDecodeError(DecodeError):
    """Bytes that are not an event of the topic; ``reason`` says which way they are not."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: FailureReason = reason
        self.detail = detail


class _TopicDecoder(Generic[T]):
    """Decodes one topic's records, telling why bytes are not an event of the topic."""

    def __init__(self, type_: type[T] | Any) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)

    def __call__(self, data: bytes) -> T:
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            text = str(exc)
            if _TAG_PATH.search(text) or text.startswith("Object missing required field `type`"):
                raise EventDecodeError("unknown_event", text) from exc
            raise EventDecodeError("invalid_fields", text) from exc
        except msgspec.DecodeError as exc:
            raise EventDecodeError("undecodable", str(exc)) from exc


class _DocumentDecoder(Generic[T]):
    """Decodes a stored document (a snapshot, a run's result); DecodeError names what it is not."""

    def __init__(self, type_: type[T], what: str) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(type_)
        self._what = what

    def __call__(self, data: bytes) -> T:
        try:
            return self._decoder.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise DecodeError(f"not {self._what}: {exc}") from exc


decode_request: Callable[[bytes], GenerateRequest] = _TopicDecoder(GenerateRequest)
decode_approval: Callable[[bytes], InterruptRaised] = _TopicDecoder(InterruptRaised)
decode_resume: Callable[[bytes], ResumeRequested] = _TopicDecoder(ResumeRequested)
decode_result: Callable[[bytes], ResultEvent] = _TopicDecoder(ResultEvent)
decode_dead_letter: Callable[[bytes], DeadLetter] = _TopicDecoder(DeadLetter)
decode_snapshot: Callable[[bytes], Snapshot] = _DocumentDecoder(Snapshot, "a snapshot")
decode_run_result: Callable[[bytes], RunResult] = _DocumentDecoder(RunResult, "a run result")
