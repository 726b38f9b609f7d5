"""Bytes in and out. Encoders and decoders are built once, at import."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from ._documents import SCHEMA_VERSION, ChatState, PausedGeneration
from ._messages import Message, publish

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_messages_decoder = msgspec.json.Decoder(list[Message])
_paused_decoder = msgspec.json.Decoder(PausedGeneration)
_chat_decoder = msgspec.json.Decoder(ChatState)


class DecodeError(ValueError):
    """Bytes that are not a valid document of the expected type. The message names the field."""


def encode(value: Any) -> bytes:
    """JSON bytes for any wire type (or list of them)."""
    return _encoder.encode(value)


def _decode(decoder: msgspec.json.Decoder[T], data: bytes | str) -> T:
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise DecodeError(str(exc)) from exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        # Invalid UTF-8 inside a string raises UnicodeDecodeError, not msgspec's DecodeError.
        raise DecodeError(f"not valid JSON: {exc}") from exc


def _check_version(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise DecodeError(f"schema_version {version} is newer than this reader ({SCHEMA_VERSION})")


def decode_messages(data: bytes | str) -> list[Message]:
    messages = _decode(_messages_decoder, data)
    try:
        return publish(messages, "$")
    except ValueError as exc:
        raise DecodeError(str(exc)) from exc


def decode_paused(data: bytes | str) -> PausedGeneration:
    doc = _decode(_paused_decoder, data)
    if doc.schema_version > SCHEMA_VERSION:  # _check_version, inline: read on every resume
        _check_version(doc.schema_version)
    return doc


def decode_chat_state(data: bytes | str) -> ChatState:
    doc = _decode(_chat_decoder, data)
    _check_version(doc.schema_version)
    return doc
