"""Wire types for Intermission, in Genkit's JSON message format. msgspec only."""

from ._codec import (
    DecodeError,
    decode_chat_state,
    decode_messages,
    decode_paused,
    encode,
)
from ._documents import SCHEMA_VERSION, ChatState, PausedGeneration
from ._jsonschema import all_json_schemas, json_schema
from ._messages import (
    DataPart,
    Marker,
    Media,
    MediaPart,
    Message,
    Metadata,
    Part,
    Role,
    TextPart,
    ToolDefinition,
    ToolRequest,
    ToolRequestPart,
    ToolResponse,
    ToolResponsePart,
    with_metadata,
)

__all__ = [
    "SCHEMA_VERSION",
    "ChatState",
    "DataPart",
    "DecodeError",
    "Marker",
    "Media",
    "MediaPart",
    "Message",
    "Metadata",
    "Part",
    "PausedGeneration",
    "Role",
    "TextPart",
    "ToolDefinition",
    "ToolRequest",
    "ToolRequestPart",
    "ToolResponse",
    "ToolResponsePart",
    "all_json_schemas",
    "decode_chat_state",
    "decode_messages",
    "decode_paused",
    "encode",
    "json_schema",
    "with_metadata",
]
