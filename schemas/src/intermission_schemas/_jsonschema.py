"""JSON Schemas for every public wire type, for integrators in other languages."""

from __future__ import annotations

from typing import Any

import msgspec

from ._documents import ChatState, PausedGeneration
from ._events import (
    DeadLetter,
    GenerateRequest,
    InterruptRaised,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    RunResult,
    Snapshot,
)
from ._messages import Message, Part, ToolDefinition, ToolRequestPart, ToolResponsePart

DOCUMENT_TYPES: dict[str, Any] = {
    "Message": Message,
    "Part": Part,
    "ToolRequestPart": ToolRequestPart,
    "ToolResponsePart": ToolResponsePart,
    "ToolDefinition": ToolDefinition,
    "PausedGeneration": PausedGeneration,
    "ChatState": ChatState,
    "GenerateRequest": GenerateRequest,
    "InterruptRaised": InterruptRaised,
    "ResumeRequested": ResumeRequested,
    "RunCompleted": RunCompleted,
    "RunFailed": RunFailed,
    "ResumeRejected": ResumeRejected,
    "DeadLetter": DeadLetter,
    "Snapshot": Snapshot,
    "RunResult": RunResult,
}


def json_schema(type_: Any) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one wire type, with its definitions inlined under $defs."""
    return msgspec.json.schema(type_)


def all_json_schemas() -> dict[str, dict[str, Any]]:
    """Name to JSON Schema, for every public wire type."""
    return {name: json_schema(t) for name, t in DOCUMENT_TYPES.items()}
