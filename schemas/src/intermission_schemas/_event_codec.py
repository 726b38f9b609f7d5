"""Decoders for each topic's union, built once, with a typed reason when bytes do not fit."""

from __future__ import annotations

import re
from typing import Any, Literal, TypeAlias, TypeVar

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


class _TopicDecoder:
    def __init__(self, type_: Any) -> None:
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(type_)

    def decode(self, data: bytes) -> Any:
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            text = str(exc)
            if _TAG_PATH.search(text) or text.startswith("Object missing required field `type`"):
                raise EventDecodeError("unknown_event", text) from exc
            raise EventDecodeError("invalid_fields", text) from exc
        except msgspec.DecodeError as exc:
            raise EventDecodeError("undecodable", str(exc)) from exc


_requests = _TopicDecoder(GenerateRequest)
_approvals = _TopicDecoder(InterruptRaised)
_resumes = _TopicDecoder(ResumeRequested)
_results = _TopicDecoder(ResultEvent)
_dead_letters = _TopicDecoder(DeadLetter)
_snapshot = msgspec.json.Decoder(Snapshot)
_run_result = msgspec.json.Decoder(RunResult)


def decode_request(data: bytes) -> GenerateRequest:
    result: GenerateRequest = _requests.decode(data)
    return result


def decode_approval(data: bytes) -> InterruptRaised:
    result: InterruptRaised = _approvals.decode(data)
    return result


def decode_resume(data: bytes) -> ResumeRequested:
    result: ResumeRequested = _resumes.decode(data)
    return result


def decode_result(data: bytes) -> ResultEvent:
    result: ResultEvent = _results.decode(data)
    return result


def decode_dead_letter(data: bytes) -> DeadLetter:
    result: DeadLetter = _dead_letters.decode(data)
    return result


def decode_snapshot(data: bytes) -> Snapshot:
    try:
        return _snapshot.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DecodeError(f"not a snapshot: {exc}") from exc


def decode_run_result(data: bytes) -> RunResult:
    try:
        return _run_result.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DecodeError(f"not a run result: {exc}") from exc
