"""Stored documents: what a paused generation or a chat is, as data.

Schema-change rules (tested in tests/schemas/test_evolution.py):
1. A new field always has a default, so documents written before it still decode.
2. Tags and field names never change; a renamed concept gets a new field.
3. Unknown fields are ignored on decode, so older readers accept newer documents.
4. ``schema_version`` goes up only when rule 1 or 2 cannot hold (version 2 dropped the part tag to
   write Genkit's exact JSON); readers reject versions they do not know, and keep reading every
   older version.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._messages import Message, ToolDefinition, ToolRequestPart, publish

# 2: parts are untagged, as Genkit writes them (version 1 tagged each with "kind"). Version 1
# documents still decode; decoding upgrades them, so what is re-encoded is a version 2 document.
SCHEMA_VERSION = 2


def _upgrade(document: PausedGeneration | ChatState) -> None:
    publish(document.messages)
    if document.schema_version < SCHEMA_VERSION:
        msgspec.structs.force_setattr(document, "schema_version", SCHEMA_VERSION)


class PausedGeneration(msgspec.Struct, frozen=True, rename="camel", tag=True):
    """A generation stopped at an interrupt: the history plus what it waits for.

    ``interrupts`` is derivable from the last message; it is stored so a reader can check that
    the two agree instead of trusting either one alone.
    """

    messages: list[Message]
    interrupts: list[ToolRequestPart]
    # Always written (these structs do not omit defaults), so a reader can tell old from new.
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _upgrade(self)


class ChatState(msgspec.Struct, frozen=True, rename="camel", tag=True):
    """Everything a chat needs to continue in another process."""

    messages: list[Message]
    tools: list[str] = []
    interrupts: list[ToolRequestPart] = []
    system: str | None = None
    config: dict[str, Any] | None = None
    inline_tools: list[ToolDefinition] = []
    # Always written (these structs do not omit defaults), so a reader can tell old from new.
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _upgrade(self)
