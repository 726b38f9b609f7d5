"""Messages and parts in Genkit's JSON message format, exactly as Genkit writes them.

A part is one of text, media, data, tool request, tool response, custom, reasoning or resource,
each with optional ``metadata``. Like Genkit, a part carries no tag: which one it is follows from
which key it has (``{"text": ...}``, ``{"toolRequest": ...}``, ...). Genkit Python's ``Part``
forbids extra keys and Genkit's JSON Schema sets ``additionalProperties: false``, so we write
nothing Genkit does not.

Decoding stays in msgspec: a part is decoded as `_WirePart`, one struct with every part key
optional, and `publish` turns each into its public class by the key present. Parts
written by Intermission before 0.2 carried a ``"kind"`` tag; it is accepted and ignored on read.

Interrupt state rides in part metadata under Genkit's own marker names (see `Marker`). Provider
data that must come back unchanged (Gemini's ``thoughtSignature``) rides there too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import msgspec

Role: TypeAlias = Literal["user", "model", "system", "tool"]
Metadata: TypeAlias = dict[str, Any]


class Marker:
    """Genkit's part-metadata keys for interrupt state. The names never change."""

    INTERRUPT = "interrupt"  # on a pending tool request: the interrupt's metadata, or True
    PENDING_OUTPUT = "pendingOutput"  # on a request of the same turn that already finished
    RESOLVED_INTERRUPT = "resolvedInterrupt"  # replaces INTERRUPT once the request is answered
    RESUMED = "resumed"  # on a restart part, and on a resume's tool message: the metadata, or True
    REPLACED_INPUT = "replacedInput"  # on a restart part: the input the model first sent
    INTERRUPT_RESPONSE = "interruptResponse"  # on a tool response built by respond
    SOURCE = "source"  # "pending" on a response replayed from PENDING_OUTPUT
    THOUGHT_SIGNATURE = "thoughtSignature"  # Gemini's opaque signature, base64, kept verbatim


class _Part(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel", gc=False):
    # gc=False: parts hold JSON data and never form reference cycles; untracked, they decode faster.
    pass


class TextPart(_Part, frozen=True):
    text: str
    metadata: Metadata | None = None


class Media(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    url: str
    content_type: str | None = None


class MediaPart(_Part, frozen=True):
    media: Media
    metadata: Metadata | None = None


class DataPart(_Part, frozen=True):
    data: Any
    metadata: Metadata | None = None


class ToolRequest(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel"):
    name: str
    ref: str | None = None
    input: Any = None
    partial: bool | None = None  # Genkit: a request still being streamed


class ToolRequestPart(_Part, frozen=True):
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
    content: list[Any] | None = None  # Genkit: multipart tool output, parts as JSON, kept verbatim


class ToolResponsePart(_Part, frozen=True):
    tool_response: ToolResponse
    metadata: Metadata | None = None


class CustomPart(_Part, frozen=True):
    custom: dict[str, Any]
    metadata: Metadata | None = None


class ReasoningPart(_Part, frozen=True):
    reasoning: str
    metadata: Metadata | None = None


class Resource(msgspec.Struct, frozen=True, omit_defaults=True):
    uri: str


class ResourcePart(_Part, frozen=True):
    resource: Resource
    metadata: Metadata | None = None


Part: TypeAlias = (
    TextPart
    | MediaPart
    | DataPart
    | ToolRequestPart
    | ToolResponsePart
    | CustomPart
    | ReasoningPart
    | ResourcePart
)
PART_TYPES: tuple[type[Any], ...] = (
    TextPart,
    MediaPart,
    DataPart,
    ToolRequestPart,
    ToolResponsePart,
    CustomPart,
    ReasoningPart,
    ResourcePart,
)

_KINDS = "text, media, toolRequest, toolResponse, data, custom, reasoning or resource"


class _WirePart(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel", gc=False):
    """A part as read from JSON: every Genkit part key, each optional. Never leaves this module."""

    text: str | None = None
    tool_request: ToolRequest | None = None
    tool_response: ToolResponse | None = None
    media: Media | None = None
    data: Any = msgspec.UNSET  # UNSET, not None: ``{"data": null}`` is a data part
    custom: dict[str, Any] | None = None
    reasoning: str | None = None
    resource: Resource | None = None
    metadata: Metadata | None = None
    kind: str | None = None  # the tag Intermission wrote before 0.2; read, never written

    def to_part(self) -> Part:
        present: list[Part] = []
        metadata = self.metadata
        if self.text is not None:
            present.append(TextPart(self.text, metadata))
        if self.tool_request is not None:
            present.append(ToolRequestPart(self.tool_request, metadata))
        if self.tool_response is not None:
            present.append(ToolResponsePart(self.tool_response, metadata))
        if self.media is not None:
            present.append(MediaPart(self.media, metadata))
        if self.reasoning is not None:
            present.append(ReasoningPart(self.reasoning, metadata))
        if self.resource is not None:
            present.append(ResourcePart(self.resource, metadata))
        if self.data is not msgspec.UNSET:
            present.append(DataPart(self.data, metadata))
        if self.custom is not None and not present:
            # Genkit lets ``custom`` ride on any part; alone, it is a custom part.
            present.append(CustomPart(self.custom, metadata))
        if len(present) == 1:
            return present[0]
        if not present and self.kind is not None:
            raise ValueError(f"part of unknown kind {self.kind!r}: a part has one of {_KINDS}")
        raise ValueError(f"a part has exactly one of {_KINDS}; this one has {len(present)}")


def publish(messages: list[Message], where: str = "messages") -> list[Message]:
    """``messages`` fresh from a msgspec decoder, with every part made public, in place.

    Every struct that holds messages calls this from ``__post_init__`` (msgspec runs it after
    decoding, and adds where that struct sits to any error); a per-message ``__post_init__`` would
    cost more than the decoding itself. A list is either fresh from a decoder (all parts wide) or
    built in Python (all parts public), so the first non-empty message tells which.
    Raises ValueError naming the part (``messages[1].content[0]``) when a part has no kind or two.
    """
    for message in messages:
        content: list[Any] = message.content
        if not content:
            continue
        if content[0].__class__ is not _WirePart:
            return messages
        break
    else:
        return messages
    for message in messages:
        wide: list[Any] = message.content
        index = 0
        for part in wide:  # counted by hand: enumerate costs a fifth of this loop
            text = part.text
            if (
                text is not None
                and part.tool_request is None
                and part.tool_response is None
                and part.media is None
                and part.data is _UNSET
                and part.reasoning is None
                and part.resource is None
            ):
                wide[index] = TextPart(text, part.metadata)  # the common case, kept short
            elif (
                text is None
                and part.tool_request is not None
                and part.tool_response is None
                and part.media is None
                and part.data is _UNSET
                and part.reasoning is None
                and part.resource is None
            ):
                wide[index] = ToolRequestPart(part.tool_request, part.metadata)  # every paused turn
            else:
                try:
                    wide[index] = part.to_part()
                except ValueError as exc:
                    position = next(i for i, m in enumerate(messages) if m is message)
                    raise ValueError(f"{exc}, at `{where}[{position}].content[{index}]`") from None
            index += 1  # noqa: SIM113
    return messages


_UNSET = msgspec.UNSET


class Message(msgspec.Struct, frozen=True, omit_defaults=True, rename="camel", gc=False):
    role: Role
    if TYPE_CHECKING:
        content: list[Part]
    else:
        # Decoded as wide parts and made public by `publish` (msgspec cannot pick a struct type
        # by which key is present). Built in Python, it holds public parts from the start.
        content: list[_WirePart]
    metadata: Metadata | None = None

    @property
    def text(self) -> str:
        return "".join([p.text for p in self.content if isinstance(p, TextPart)])

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
