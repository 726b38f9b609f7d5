"""Gemini behind the model seam, through the official ``google-genai`` SDK.

`GeminiModel` turns a `ModelRequest` into one ``generateContent`` call (or a
``streamGenerateContent`` call when the caller streams) and the reply back into a
`ModelResponse`. The SDK's automatic function calling is off: the engine runs the tool loop.

Thought signatures. Gemini puts an opaque ``thoughtSignature`` on parts and, for Gemini 3,
rejects a function-calling history whose signatures do not come back. The SDK decodes the
base64 text into bytes on the way in (accepting either alphabet, padded or not) and always
re-encodes bytes as *url-safe* base64 on the way out, while Gemini writes *standard* base64.
Going through the SDK's types naively therefore changes the text (``+/`` become ``-_``). So:

* in: the bytes are written back as standard, padded base64, the canonical proto3-JSON form
  Gemini uses, which reproduces the text Gemini sent (the SDK keeps no copy of that text);
* out: the stored text is put on the SDK part without validation, so the SDK copies it into
  the request body unchanged and Gemini receives exactly the string stored in the history.

No SDK type leaves this module: the mapping functions are private and errors become
`intermission.errors` types (the SDK exception is kept as ``__cause__``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias, TypeVar
from urllib.parse import unquote_to_bytes

import msgspec
import pydantic
from google import genai
from google.genai import errors as genai_errors
from google.genai import types
from intermission_schemas import (
    DataPart,
    Marker,
    Media,
    MediaPart,
    Message,
    Part,
    TextPart,
    ToolDefinition,
    ToolRequest,
    ToolRequestPart,
    ToolResponsePart,
)

from ._model import ChunkCallback, FinishReason, ModelChunk, ModelRequest, ModelResponse, Usage
from .errors import ModelError, ModelUnavailableError, RateLimitedError, UsageError

__all__ = ["GeminiModel", "RetryPolicy"]

T = TypeVar("T")
Sleep: TypeAlias = Callable[[float], Awaitable[None]]

_THOUGHT = "thought"  # part metadata: this text is the model's thinking, not its answer


# --- retries ------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Exponential backoff with jitter, for 429s, 5xx and transport failures.

    The delay before attempt ``n + 1`` is ``min(max_delay, initial_delay * multiplier**(n-1))``,
    shortened by up to ``jitter`` of itself at random so that many workers do not retry in step.
    When Gemini says how long to wait (``Retry-After``, or ``RetryInfo`` in the error body), the
    wait is at least that long; a hint longer than ``max_delay`` ends the retries at once, so the
    caller hears about a long quota wait now rather than after several doomed attempts.

    ``sleep`` is how the policy waits; tests pass a recorder to run without delays.
    """

    max_attempts: int = 4
    initial_delay: float = 0.5
    max_delay: float = 8.0
    multiplier: float = 2.0
    jitter: float = 0.5
    sleep: Sleep = field(default=asyncio.sleep, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise UsageError("RetryPolicy.max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0 or self.multiplier < 1:
            raise UsageError("RetryPolicy delays must be >= 0 and multiplier >= 1")
        if not 0 <= self.jitter <= 1:
            raise UsageError("RetryPolicy.jitter must be between 0 and 1")

    def delay_after(self, attempt: int, hint: float | None = None) -> float | None:
        """Seconds to wait after failed attempt ``attempt`` (1-based); None means give up."""
        if attempt >= self.max_attempts:
            return None
        if hint is not None and hint > self.max_delay:
            return None
        backoff = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        backoff *= 1 - self.jitter * random.random()
        return max(backoff, hint or 0.0)


# --- the model ----------------------------------------------------------------------------------


class GeminiModel:
    """A `Model` backed by Gemini (the Gemini Developer API, or any client you configure).

    Pass ``client`` to reuse a configured ``genai.Client`` (Vertex AI, proxies, custom HTTP
    options); otherwise one is made from ``api_key`` (or the SDK's ``GEMINI_API_KEY`` /
    ``GOOGLE_API_KEY`` environment variables) and ``base_url``.

    ``request.config`` takes Gemini's generation settings in snake_case or Genkit's camelCase
    (``temperature``, ``maxOutputTokens``, ``topP``, ``topK``, ``stopSequences``,
    ``thinkingConfig``, ``safetySettings``, ``toolConfig``, ...). Unknown keys are a UsageError.
    """

    def __init__(
        self,
        model: str = "gemini-2.5-flash",
        *,
        client: genai.Client | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if client is not None and (api_key is not None or base_url is not None):
            raise UsageError("pass either client or api_key/base_url to GeminiModel, not both")
        self.model = model
        self.retry = retry if retry is not None else RetryPolicy()
        self._owns_client = client is None
        self._client = client if client is not None else _make_client(api_key, base_url)

    def __repr__(self) -> str:
        return f"GeminiModel({self.model!r})"

    async def aclose(self) -> None:
        """Closes the HTTP connections of the client this model made; a client passed in is
        left to its owner."""
        if self._owns_client:
            await self._client.aio.aclose()

    async def __aenter__(self) -> GeminiModel:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def generate(self, request: ModelRequest, on_chunk: ChunkCallback | None = None) -> ModelResponse:
        # Mapping errors are the caller's to fix: raise them before any network call.
        contents, system = _to_contents(request.messages)
        config = _to_config(request, system)
        if on_chunk is None:
            return await self._with_retries(lambda: self._generate_once(contents, config))
        return await self._with_retries(lambda: self._stream_once(contents, config, on_chunk))

    async def _generate_once(
        self, contents: list[types.Content], config: types.GenerateContentConfig
    ) -> ModelResponse:
        response = await self._client.aio.models.generate_content(
            model=self.model, contents=contents, config=config
        )
        accumulator = _Accumulator(merge_text=False)
        accumulator.add(response)
        return accumulator.response()

    async def _stream_once(
        self,
        contents: list[types.Content],
        config: types.GenerateContentConfig,
        on_chunk: ChunkCallback,
    ) -> ModelResponse:
        accumulator = _Accumulator(merge_text=True)
        delivered = False
        stream = await self._client.aio.models.generate_content_stream(
            model=self.model, contents=contents, config=config
        )
        try:
            async for chunk in stream:
                parts = accumulator.add(chunk)
                if parts:
                    await on_chunk(ModelChunk(content=parts))
                    delivered = True
        except _SDK_ERRORS as err:
            if delivered:
                # The caller has seen chunks already; a retry would show them twice.
                raise _Failure.of(err).error("in the middle of a stream, not retried") from err
            raise
        finally:
            await _close(stream)
        return accumulator.response()

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        while True:
            try:
                return await call()
            except _SDK_ERRORS as err:
                failure = _Failure.of(err)
                delay = self.retry.delay_after(attempt, failure.hint) if failure.retryable else None
                if delay is None:
                    tries = f"after {attempt} attempt{'s' if attempt > 1 else ''}"
                    raise failure.error(tries) from err
            await self.retry.sleep(delay)
            attempt += 1


def _make_client(api_key: str | None, base_url: str | None) -> genai.Client:
    http_options = types.HttpOptions(base_url=base_url) if base_url else None
    try:
        return genai.Client(api_key=api_key, http_options=http_options)
    except ValueError as err:  # the SDK's way of saying "no API key"
        raise UsageError(f"cannot create a Gemini client: {err}") from err


async def _close(stream: AsyncIterator[Any]) -> None:
    # Closing the SDK's generator releases the HTTP connection now, not at garbage collection.
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        await aclose()


# --- errors -------------------------------------------------------------------------------------


def _transport_errors() -> tuple[type[BaseException], ...]:
    # The SDK uses httpx2 by default, httpx when given an httpx client, and aiohttp whenever
    # aiohttp is installed; their network errors reach us unwrapped.
    found: list[type[BaseException]] = [TimeoutError]
    for module, name in (
        ("httpx2", "TransportError"),
        ("httpx", "TransportError"),
        ("aiohttp", "ClientError"),
    ):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


_TRANSPORT_ERRORS = _transport_errors()
_SDK_ERRORS: tuple[type[BaseException], ...] = (genai_errors.APIError, *_TRANSPORT_ERRORS)


@dataclass(frozen=True)
class _Failure:
    kind: type[ModelError]
    message: str
    status: int | None
    retryable: bool
    hint: float | None

    @classmethod
    def of(cls, err: BaseException) -> _Failure:
        if not isinstance(err, genai_errors.APIError):
            return cls(ModelUnavailableError, f"cannot reach Gemini: {err!r}", None, True, None)
        status = err.code
        text = f"Gemini answered {status} {err.status or ''}: {err.message or err.details}"
        hint = _retry_hint(err)
        if status == 429:
            return cls(RateLimitedError, text, status, True, hint)
        # 408 is the front end giving up on a slow request: as transient as a 5xx.
        if status == 408 or isinstance(err, genai_errors.ServerError):
            return cls(ModelUnavailableError, text, status, True, hint)
        return cls(ModelError, text, status, False, None)

    def error(self, context: str) -> ModelError:
        return self.kind(f"{self.message} ({context})", status=self.status)


def _retry_hint(err: genai_errors.APIError) -> float | None:
    """Seconds Gemini asked us to wait, from ``Retry-After`` or a ``RetryInfo`` detail."""
    headers = getattr(getattr(err, "response", None), "headers", None)
    if headers is not None:
        seconds = _seconds(headers.get("retry-after"))
        if seconds is not None:
            return seconds
    body = err.details if isinstance(err.details, Mapping) else {}
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, Mapping) and "retryDelay" in detail:
            return _seconds(str(detail["retryDelay"]).removesuffix("s"))
    return None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare enough to fall back to our own backoff


# --- request: our messages to Gemini ------------------------------------------------------------

_ROLES = {"user": "user", "model": "model", "tool": "user"}  # Gemini takes tool results as user


def _to_contents(messages: list[Message]) -> tuple[list[types.Content], types.Content | None]:
    contents: list[types.Content] = []
    system: list[types.Part] = []
    for message in messages:
        parts = [_to_gemini_part(part) for part in message.content]
        if message.role == "system":
            system.extend(parts)
        elif parts:  # Gemini rejects a turn without parts (a blocked reply leaves one)
            contents.append(types.Content(role=_ROLES[message.role], parts=parts))
    if not contents:
        raise UsageError("a Gemini request needs at least one non-system message with content")
    return contents, types.Content(parts=system) if system else None


def _to_gemini_part(part: Part) -> types.Part:
    fields = _part_fields(part)
    signature = (part.metadata or {}).get(Marker.THOUGHT_SIGNATURE)
    if signature is None:
        return types.Part(**fields)
    if not isinstance(signature, str):
        raise UsageError(f"part metadata {Marker.THOUGHT_SIGNATURE!r} must be a base64 string")
    # Validation would decode the text to bytes, which the SDK re-encodes url-safe; skipping it
    # makes the SDK copy our string into the request body as it is. The other fields are
    # already-validated SDK objects.
    fields["thought_signature"] = signature
    return types.Part.model_construct(**fields)


def _part_fields(part: Part) -> dict[str, Any]:
    match part:
        case TextPart(text=text, metadata=metadata):
            thought = {"thought": True} if (metadata or {}).get(_THOUGHT) is True else {}
            return {"text": text, **thought}
        case MediaPart(media=media):
            return _media_fields(media)
        case DataPart(data=data):
            return {"text": msgspec.json.encode(data).decode()}
        case ToolRequestPart(tool_request=request):
            args = None if request.input is None else _as_object(request.input, "input")
            call = types.FunctionCall(id=request.ref, name=request.name, args=args)
            return {"function_call": call}
        case ToolResponsePart(tool_response=response):
            output = _as_object(response.output, "output")
            reply = types.FunctionResponse(id=response.ref, name=response.name, response=output)
            return {"function_response": reply}
    raise UsageError(f"cannot send a {type(part).__name__} to Gemini")


def _as_object(value: Any, key: str) -> dict[str, Any]:
    """Gemini wants a JSON object here; anything else goes under ``key``. Our history keeps
    the original value."""
    plain = msgspec.to_builtins(value)  # Structs, dates, bytes: what json.dumps cannot take
    return plain if isinstance(plain, dict) else {key: plain}


def _media_fields(media: Media) -> dict[str, Any]:
    if not media.url.startswith("data:"):
        return {"file_data": types.FileData(file_uri=media.url, mime_type=media.content_type)}
    header, comma, payload = media.url[5:].partition(",")
    if not comma:
        raise UsageError(f"malformed data URL in a media part: {media.url[:40]!r}...")
    mime, *params = header.split(";")
    try:
        data = base64.b64decode(payload) if "base64" in params else unquote_to_bytes(payload)
    except binascii.Error as err:
        raise UsageError(f"media data URL is not valid base64: {err}") from err
    mime_type = media.content_type or mime or "text/plain"
    return {"inline_data": types.Blob(mime_type=mime_type, data=data)}


def _to_config(request: ModelRequest, system: types.Content | None) -> types.GenerateContentConfig:
    fields = _config_fields(request.config or {})
    fields["automatic_function_calling"] = types.AutomaticFunctionCallingConfig(disable=True)
    if system is not None:
        fields["system_instruction"] = system
    if request.tools:
        declarations = [_declaration(tool) for tool in request.tools]
        fields["tools"] = [types.Tool(function_declarations=declarations)]
    if request.output_schema is not None:
        fields["response_mime_type"] = "application/json"
        fields["response_json_schema"] = request.output_schema
    try:
        return types.GenerateContentConfig(**fields)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(step) for step in first["loc"])
        raise UsageError(f"Gemini config {where!r}: {first['msg']}") from err


def _declaration(tool: ToolDefinition) -> types.FunctionDeclaration:
    # The *_json_schema fields take JSON Schema as is; the older `parameters` field would run
    # it through the SDK's own Schema type, which drops or rewrites parts of it.
    return types.FunctionDeclaration(
        name=tool.name,
        description=tool.description,
        parameters_json_schema=tool.input_schema,
        response_json_schema=tool.output_schema,
    )


_CONFIG_KEYS = frozenset(
    {
        "temperature", "top_p", "top_k", "max_output_tokens", "stop_sequences",
        "presence_penalty", "frequency_penalty", "seed", "response_logprobs", "logprobs",
        "safety_settings", "thinking_config", "tool_config", "cached_content", "labels",
        "media_resolution", "response_modalities", "speech_config", "image_config",
        "service_tier",
    }
)  # fmt: skip
# Set from the request itself, or they would break the adapter (AFC, raw responses, candidates).
_OWNED_KEYS = frozenset(
    {
        "system_instruction", "tools", "response_mime_type", "response_schema",
        "response_json_schema", "automatic_function_calling", "http_options",
        "should_return_http_response", "candidate_count",
    }
)  # fmt: skip
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _config_fields(config: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in config.items():
        name = _CAMEL_HUMP.sub("_", key).lower()
        if name in _OWNED_KEYS:
            raise UsageError(
                f"Gemini config key {key!r} is not allowed: Intermission sets it from the "
                "request (messages, tools, output schema)"
            )
        if name not in _CONFIG_KEYS:
            supported = ", ".join(sorted(_CONFIG_KEYS))
            raise UsageError(f"unknown Gemini config key {key!r}; supported: {supported}")
        fields[name] = value
    return fields


# --- response: Gemini to our messages -----------------------------------------------------------

_FINISH_REASONS: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "blocked",
    "RECITATION": "blocked",
    "BLOCKLIST": "blocked",
    "PROHIBITED_CONTENT": "blocked",
    "SPII": "blocked",
    "IMAGE_SAFETY": "blocked",
    "IMAGE_PROHIBITED_CONTENT": "blocked",
    "IMAGE_RECITATION": "blocked",
    "FINISH_REASON_UNSPECIFIED": "unknown",
}


class _Accumulator:
    """Builds one response from a reply, or from the chunks of a streamed reply."""

    def __init__(self, *, merge_text: bool) -> None:
        self._merge_text = merge_text
        self._parts: list[Part] = []
        self._finish: FinishReason = "unknown"
        self._usage: Usage | None = None

    def add(self, reply: types.GenerateContentResponse) -> list[Part]:
        """Takes in one reply or chunk; returns its parts."""
        if reply.usage_metadata is not None:
            self._usage = _usage(reply.usage_metadata)  # each chunk carries the running total
        candidate = reply.candidates[0] if reply.candidates else None
        if candidate is None:
            feedback = reply.prompt_feedback
            if feedback is not None and feedback.block_reason is not None:
                self._finish = "blocked"
            return []
        if candidate.finish_reason is not None:
            self._finish = _finish_reason(candidate.finish_reason)
        content = candidate.content
        parts = [p for p in map(_from_gemini_part, content.parts or []) if p] if content else []
        for part in parts:
            self._append(part)
        return parts

    def _append(self, part: Part) -> None:
        merged = _merged(self._parts[-1], part) if self._merge_text and self._parts else None
        if merged is not None:
            self._parts[-1] = merged
        else:
            self._parts.append(part)

    def response(self) -> ModelResponse:
        message = Message(role="model", content=self._parts)
        return ModelResponse(message=message, finish_reason=self._finish, usage=self._usage)


def _merged(last: Part, part: Part) -> TextPart | None:
    """A streamed text delta joined to the text part before it, when it continues that part."""
    if not isinstance(last, TextPart) or not isinstance(part, TextPart):
        return None
    last_meta, meta = last.metadata or {}, part.metadata or {}
    if Marker.THOUGHT_SIGNATURE in last_meta:
        return None  # a signed part is closed: never merge two signed runs
    if bool(last_meta.get(_THOUGHT)) != bool(meta.get(_THOUGHT)):
        return None
    # Gemini streams a run of text, then the signature on its last (often empty) part: the
    # joined part takes that part's metadata, so the signature ends the run as it did.
    return TextPart(last.text + part.text, metadata=part.metadata)


def _from_gemini_part(part: types.Part) -> Part | None:
    metadata: dict[str, Any] = {}
    if part.thought_signature is not None:
        metadata[Marker.THOUGHT_SIGNATURE] = base64.b64encode(part.thought_signature).decode()
    if part.thought:
        metadata[_THOUGHT] = True
    meta = metadata or None
    if part.function_call is not None:
        call = part.function_call
        args = call.args if call.args is not None else {}
        return ToolRequestPart(ToolRequest(name=call.name or "", ref=call.id, input=args), meta)
    if part.text is not None:
        return TextPart(part.text, metadata=meta)
    if part.inline_data is not None:
        blob = part.inline_data
        encoded = base64.b64encode(blob.data or b"").decode()
        url = f"data:{blob.mime_type or 'application/octet-stream'};base64,{encoded}"
        return MediaPart(Media(url=url, content_type=blob.mime_type), meta)
    if part.file_data is not None and part.file_data.file_uri:
        media = Media(url=part.file_data.file_uri, content_type=part.file_data.mime_type)
        return MediaPart(media, meta)
    if Marker.THOUGHT_SIGNATURE in metadata:
        return TextPart("", metadata=meta)  # a signature alone must still go back
    return None  # code execution and other parts we never ask for


def _finish_reason(reason: types.FinishReason) -> FinishReason:
    return _FINISH_REASONS.get(str(reason.value), "other")


def _usage(usage: types.GenerateContentResponseUsageMetadata) -> Usage:
    # Thinking tokens are billed as output, so they count as output here.
    parts = [usage.candidates_token_count, usage.thoughts_token_count]
    output = sum(n or 0 for n in parts) if any(n is not None for n in parts) else None
    return Usage(
        input_tokens=usage.prompt_token_count,
        output_tokens=output,
        total_tokens=usage.total_token_count,
    )
