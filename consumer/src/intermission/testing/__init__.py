"""Test helpers: run code that calls Gemini against a local, scripted Gemini endpoint.

See `GeminiServer` for an example.
"""

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

__all__ = [
    "GeminiReply",
    "GeminiServer",
    "RecordedRequest",
    "Reply",
    "ReplyFunction",
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
