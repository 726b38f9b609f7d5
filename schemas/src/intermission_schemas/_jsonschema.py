"""JSON Schemas for every public wire type, for integrators in other languages."""

from __future__ import annotations

from typing import Any

import msgspec

from ._descriptions import describe
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
from ._messages import PART_TYPES, Message, Part, ToolDefinition, ToolRequestPart, ToolResponsePart
from ._stored import StoredSnapshot

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
    "StoredSnapshot": StoredSnapshot,
}


def schema_components(
    types: list[Any], ref_template: str = "#/$defs/{name}"
) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    """``msgspec.json.schema_components`` for wire types, with the part union spelled out.

    Parts are untagged, so msgspec cannot describe the ``Part`` union: a message's parts are
    decoded as one wide struct. Its definition is replaced by ``Part``, an ``anyOf`` of the public
    part types, each requiring its key.
    """
    refs, defs = _undescribed_components(types, ref_template)
    return refs, describe(defs)


def _undescribed_components(
    types: list[Any], ref_template: str
) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    wanted = [Message if t is Part else t for t in types]
    refs, defs = msgspec.json.schema_components(wanted, ref_template=ref_template)
    if "_WirePart" not in defs:
        return refs, defs
    del defs["_WirePart"]
    part_refs, part_defs = msgspec.json.schema_components(PART_TYPES, ref_template=ref_template)
    defs.update(part_defs)
    part_ref = ref_template.format(name="Part")
    defs["Part"] = {"title": "Part", "anyOf": list(part_refs)}
    if Part in types and Message not in types:
        del defs["Message"]
    refs = tuple({"$ref": part_ref} if t is Part else r for t, r in zip(types, refs, strict=True))
    old = ref_template.format(name="_WirePart")
    return _replace_refs(refs, old, part_ref), _replace_refs(defs, old, part_ref)


def json_schema(type_: Any) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one wire type, with its definitions inlined under $defs."""
    (root,), defs = schema_components([type_])
    if not defs:
        return root
    return {**root, "$defs": defs}


def _replace_refs(node: Any, old: str, new: str) -> Any:
    if isinstance(node, dict):
        return {k: new if k == "$ref" and v == old else _replace_refs(v, old, new) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return type(node)(_replace_refs(v, old, new) for v in node)
    return node


def all_json_schemas() -> dict[str, dict[str, Any]]:
    """Name to JSON Schema, for every public wire type."""
    return {name: json_schema(t) for name, t in DOCUMENT_TYPES.items()}
