"""Test helpers, no broker, bucket or network needed.

- The service in-process: `ServiceHarness` runs a worker for your ``Intermission`` on a
  `MemoryLog` (Kafka's stand-in, also a producer ``Transport``: ``IntermissionClient(
  transport=log)``) and a `LocalSnapshotStore` (S3's stand-in). See `ServiceHarness`.
- Code that calls Gemini, against a local, scripted Gemini endpoint. See `GeminiServer`.
"""

from ..service.adapters.local import LocalSnapshotStore, MemoryLog
from ._gemini_server import (
    GeminiReply,
    GeminiServer,
    RecordedRequest,
    Reply,
    ReplyFunction,
    StreamedReply,
    candidate_reply,
    encode_signature,
    error_reply,
    function_call_part,
    function_call_reply,
    stream_chunk,
    text_part,
    text_reply,
)
from ._service import ServiceHarness

__all__ = [
    "GeminiReply",
    "GeminiServer",
    "LocalSnapshotStore",
    "MemoryLog",
    "RecordedRequest",
    "Reply",
    "ReplyFunction",
    "ServiceHarness",
    "StreamedReply",
    "candidate_reply",
    "encode_signature",
    "error_reply",
    "function_call_part",
    "function_call_reply",
    "stream_chunk",
    "text_part",
    "text_reply",
]
