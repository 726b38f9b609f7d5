"""Messages and parts in Genkit's JSON message format.

A part is one of text, media, data, tool request or tool response, each with optional
``metadata``. Genkit tells parts apart by which key is present; msgspec needs a tag, so every
part also carries ``"kind"``. Genkit's readers ignore the extra key, so a history we write still
reads like Genkit's, and decoding stays a single tagged-union pass.

Interrupt state rides in part metadata under Genkit's own marker names (see `Marker`). Provider
data that must come back unchanged (Gemini's ``thoughtSignature``) rides there too.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

Role: TypeAlias = Literal["user", "model", "system", "tool"]
Metadata: TypeAlias = dict[str, Any]


class Marker:
    """Genkit's part-metadata keys for interrupt state. The names never change."""

    INTERRUPT = "interrupt"  # on a pending tool request: the interrupt's metadata, or True
    PENDING_OUTPUT = "pendingOutput"  # on a request of the same turn that already finished
    RESOLVED_INTERRUPT = "resolvedInterrupt"  # replaces INTERRUPT once the request is answered
    RESUMED = "resumed"  # on a restarted request: the restart metadata, or True
    REPLACED_INPUT = "replacedInput"  # the original input, when a restart replaced it
    INTERRUPT_RESPONSE = "interruptResponse"  # on a tool response built by respond
    SOURCE = "source"  # "pending" on a response replayed from PENDING_OUTPUT
    THOUGHT_SIGNATURE = "thoughtSignature"  # Gemini's opaque signature, base64, kept verbatim


class _Part(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel", tag_field="kind"):
    pass


class TextPart(_Part, frozen=True, tag="text"):
    text: str
    metadata: Metadata | None = None


class Media(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    url: str
    content_type: str | None = None


class MediaPart(_Part, frozen=True, tag="media"):
    media: Media
    metadata: Metadata | None = None


class DataPart(_Part, frozen=True, tag="data"):
    data: Any
    metadata: Metadata | None = None


class ToolRequest(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    name: str
    ref: str | None = None
    input: Any = None


class ToolRequestPart(_Part, frozen=True, tag="toolRequest"):
    tool_request: ToolRequest
    metadata: Metadata | None = None

    @property
    def interrupt(self) -> Any:
        """The interrupt metadata when this request is paused, else None."""
        return (self.metadata or {}).get(Marker.INTERRUPT)

    @property
    def is_interrupted(self) -> bool:
        return Marker.INTERRUPT in (self.metadata or {})


class ToolResponse(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    name: str
    ref: str | None = None
    output: Any = None


class ToolResponsePart(_Part, frozen=True, tag="toolResponse"):
    tool_response: ToolResponse
    metadata: Metadata | None = None


Part: TypeAlias = TextPart | MediaPart | DataPart | ToolRequestPart | ToolResponsePart


class Message(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    role: Role
    content: list[Part]
    metadata: Metadata | None = None

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @property
    def tool_requests(self) -> list[ToolRequestPart]:
        return [p for p in self.content if isinstance(p, ToolRequestPart)]


class ToolDefinition(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    """What the model sees of a tool, and what an approval UI needs to render an interrupt."""

    name: str
    description: str
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    metadata: Metadata | None = None


def with_metadata(part: ToolRequestPart, **changes: Any) -> ToolRequestPart:
    """A copy of ``part`` whose metadata has ``changes`` applied; a value of None removes a key."""
    metadata = dict(part.metadata or {})
    for key, value in changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    return msgspec.structs.replace(part, metadata=metadata or None)
