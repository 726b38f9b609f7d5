"""Hostile inputs shared by the bounds tests: small to send, costly to read without bounds."""

from __future__ import annotations

from typing import Any

__all__ = ["doubling", "nested"]


def doubling(levels: int) -> dict[str, Any]:
    """A JSON Schema whose definitions each refer to the next twice: a few hundred bytes that
    describe 2**levels fields once every $ref is followed."""
    defs: dict[str, Any] = {
        f"d{i}": {
            "type": "object",
            "properties": {"a": {"$ref": f"#/$defs/d{i + 1}"}, "b": {"$ref": f"#/$defs/d{i + 1}"}},
        }
        for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return {"$ref": "#/$defs/d0", "$defs": defs}


def nested(levels: int, leaf: Any = "deep") -> Any:
    """``leaf`` inside ``levels`` arrays."""
    value: Any = leaf
    for _ in range(levels):
        value = [value]
    return value
