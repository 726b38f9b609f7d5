"""The public surface, pinned: changing what the packages export must be a deliberate edit here."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from types import ModuleType
from typing import Any

import intermission
import intermission.service
import intermission.stored
import intermission.testing
import intermission_producer
import intermission_schemas
import pytest

INTERMISSION_ALL = [
    "Chat",
    "FinishReason",
    "GeminiModel",
    "GenerateResponse",
    "GenerateStream",
    "Intermission",
    "IntermissionError",
    "MaxTurnsError",
    "Message",
    "Middleware",
    "Model",
    "ModelChunk",
    "ModelError",
    "ModelNext",
    "ModelRequest",
    "ModelResponse",
    "ModelUnavailableError",
    "Prompt",
    "RateLimitedError",
    "Resume",
    "ResumeError",
    "RetryPolicy",
    "SchemaError",
    "ScriptedModel",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolInterrupt",
    "ToolNext",
    "ToolRequestPart",
    "ToolResponsePart",
    "UnknownToolError",
    "Usage",
    "UsageError",
    "reply",
    "tool_call",
]

SCHEMAS_ALL = [
    "AnswerProblem",
    "AnswerSignature",
    "ApprovalEvent",
    "ApprovalRule",
    "ChatState",
    "Claim",
    "CollectedAnswer",
    "CustomPart",
    "DataPart",
    "DeadLetter",
    "DeadLetterReason",
    "DecodeError",
    "EVENT_VERSION",
    "EventDecodeError",
    "ExpiryPolicy",
    "GenerateRequest",
    "ID_PATTERN",
    "InterruptRaised",
    "MAX_EXPIRY_SECONDS",
    "Marker",
    "Media",
    "MediaPart",
    "Message",
    "Metadata",
    "Part",
    "PausedGeneration",
    "PendingInterrupt",
    "ReasoningPart",
    "RejectReason",
    "RequestEvent",
    "Resource",
    "ResourcePart",
    "RespondAnswer",
    "RestartAnswer",
    "ResultEvent",
    "ResumeEvent",
    "ResumeRejected",
    "ResumeRequested",
    "Role",
    "RunCompleted",
    "RunFailed",
    "RunResult",
    "SCHEMA_VERSION",
    "SchemaLimits",
    "Snapshot",
    "SnapshotRef",
    "SnapshotStatus",
    "StoredSnapshot",
    "TOPIC_NAME_PATTERN",
    "TRACEPARENT_HEADER",
    "TRACESTATE_HEADER",
    "TextPart",
    "ToolDefinition",
    "ToolRequest",
    "ToolRequestPart",
    "ToolResponse",
    "ToolResponsePart",
    "Topics",
    "TraceContext",
    "ValueCheck",
    "all_json_schemas",
    "asyncapi_document",
    "call_digest",
    "check_answers",
    "decode_approval",
    "decode_chat_state",
    "decode_dead_letter",
    "decode_messages",
    "decode_paused",
    "decode_request",
    "decode_result",
    "decode_resume",
    "decode_run_result",
    "decode_snapshot",
    "encode",
    "encode_snapshot",
    "hmac_signature",
    "json_schema",
    "pending_interrupts",
    "reply_topic_problem",
    "request_schema_problem",
    "schema_problem",
    "signing_payload",
    "tool_request_refs",
    "with_metadata",
    "with_ref",
]

SERVICE_ALL = [
    "AuditedStep",
    "PreconditionFailed",
    "Publisher",
    "Record",
    "RunAudit",
    "Sealer",
    "Settings",
    "SettingsError",
    "SnapshotStore",
    "StoreUnavailableError",
    "StoredObject",
    "Subscription",
    "TamperedSnapshotError",
    "Topics",
    "Worker",
    "audit_run",
    "build_worker",
    "load_app",
    "result_key",
    "snapshot_key",
]

PRODUCER_ALL = [
    "AnswerError",
    "AnswerKey",
    "AnswerReason",
    "BrokerError",
    "ClientUsageError",
    "ExpiryPolicy",
    "GenerateRequest",
    "Headers",
    "IntermissionClient",
    "InterruptRaised",
    "KafkaProducer",
    "KafkaSecurity",
    "KafkaTransport",
    "PendingInterrupt",
    "ProducerError",
    "RecordRefusedError",
    "RefusalReason",
    "RespondAnswer",
    "RestartAnswer",
    "ResultEvent",
    "ResultTimeout",
    "ResumeRejected",
    "ResumeRequested",
    "RunCompleted",
    "RunFailed",
    "Topics",
    "Transport",
    "TransportRecord",
    "answer_headers",
    "build_resume",
]

TESTING_ALL = [
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

ADAPTERS = {
    "intermission.service.adapters.kafka": [
        "DEFAULT_MAX_REQUEST_SIZE",
        "KafkaPublisher",
        "KafkaSecurity",
        "KafkaSubscription",
        "TopicInfo",
        "describe_topics",
        "ensure_topics",
    ],
    "intermission.service.adapters.s3": ["S3SnapshotStore"],
    "intermission.service.adapters.local": ["LocalSnapshotStore", "MemoryLog"],
}

STORED_ALL = [
    "Answer",
    "AuditedStep",
    "FORKED_FROM",
    "IndexEntry",
    "REPLAY_LABEL",
    "REPLAY_OF",
    "RunAudit",
    "RunPage",
    "RunStatus",
    "STATUSES",
    "Sealer",
    "StoredRun",
    "StoredRuns",
    "ToolCall",
    "list_runs",
    "load_run",
    "tool_calls",
]

PACKAGES = [
    (intermission, INTERMISSION_ALL),
    (intermission_schemas, SCHEMAS_ALL),
    (intermission.service, SERVICE_ALL),
    (intermission_producer, PRODUCER_ALL),
    (intermission.testing, TESTING_ALL),
    (intermission.stored, STORED_ALL),
]
IDS = [
    "intermission",
    "intermission_schemas",
    "intermission.service",
    "intermission_producer",
    "intermission.testing",
    "intermission.stored",
]


def test_pinned_lists_are_sorted_and_unique() -> None:
    for pinned in (INTERMISSION_ALL, SCHEMAS_ALL, SERVICE_ALL, PRODUCER_ALL, TESTING_ALL, STORED_ALL):
        assert pinned == sorted(pinned)
        assert len(set(pinned)) == len(pinned)


@pytest.mark.parametrize(("package", "pinned"), PACKAGES, ids=IDS)
def test_all_is_pinned(package: ModuleType, pinned: list[str]) -> None:
    assert sorted(package.__all__) == pinned
    assert len(set(package.__all__)) == len(package.__all__)


@pytest.mark.parametrize(("package", "pinned"), PACKAGES, ids=IDS)
def test_every_exported_name_is_importable(package: ModuleType, pinned: list[str]) -> None:
    namespace: dict[str, Any] = {}
    exec(f"from {package.__name__} import *", namespace)
    for name in pinned:
        assert name in namespace, name
        assert getattr(package, name) is namespace[name]


def test_the_engine_reexports_the_wire_types_it_names() -> None:
    assert intermission.Message is intermission_schemas.Message
    assert intermission.ToolRequestPart is intermission_schemas.ToolRequestPart
    assert intermission.ToolResponsePart is intermission_schemas.ToolResponsePart


def _public_callables(package: ModuleType) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    for name in package.__all__:
        value = getattr(package, name)
        if inspect.isclass(value):
            found.append((name, value))
            for attribute, member in vars(value).items():
                if not attribute.startswith("_") or attribute == "__init__":
                    function = getattr(member, "fget", None) or getattr(member, "__func__", member)
                    if callable(function):
                        found.append((f"{name}.{attribute}", function))
        elif callable(value):
            found.append((name, value))
    return found


@pytest.mark.parametrize("package", [intermission, intermission_schemas], ids=IDS[:2])
def test_no_public_name_exposes_a_google_genai_type(package: ModuleType) -> None:
    for name in package.__all__:
        value = getattr(package, name)
        module = getattr(value, "__module__", None) or ""
        assert not module.startswith("google"), f"{name} comes from {module}"
        for base in getattr(value, "__mro__", ()):
            assert not base.__module__.startswith("google"), f"{name} derives from {base!r}"
    # Nor does any public signature mention one.
    for qualified, function in _public_callables(package):
        try:
            signature = inspect.signature(function)
        except (TypeError, ValueError):
            continue
        text = str(signature) + repr(getattr(function, "__annotations__", {}))
        if qualified in ("GeminiModel", "GeminiModel.__init__"):
            # The one deliberate exception: the adapter may be handed a configured SDK client.
            # Nothing SDK-typed comes back out of it.
            text = text.replace("'genai.Client | None'", "")
        assert "google" not in text, qualified
        assert "genai" not in text, qualified


def test_the_wire_types_package_imports_neither_pydantic_nor_google() -> None:
    code = (
        "import sys, intermission_schemas\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'google', 'pydantic', 'intermission'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _signature_text(function: Any) -> str:
    try:
        signature = str(inspect.signature(function))
    except (TypeError, ValueError):
        signature = ""
    return signature + repr(getattr(function, "__annotations__", {}))


_CLIENT_LIBRARIES = ("aiokafka", "boto3", "botocore", "types_boto3")


@pytest.mark.parametrize(("package", "pinned"), PACKAGES, ids=IDS)
def test_no_public_signature_outside_an_adapter_names_kafka_or_s3_client_types(
    package: ModuleType, pinned: list[str]
) -> None:
    for name in pinned:
        value = getattr(package, name)
        for base in getattr(value, "__mro__", ()):
            assert not base.__module__.startswith(_CLIENT_LIBRARIES), f"{name} derives from {base!r}"
    for qualified, function in _public_callables(package):
        text = _signature_text(function)
        for library in _CLIENT_LIBRARIES:
            # A type from the library, spelled with its module ("boto3.session.Session"); the
            # bare word may appear as a value (INTERMISSION_S3_CLIENT's Literal['boto3', ...]).
            assert f"{library}." not in text, f"{qualified} names {library}: {text}"
        assert "AIOKafka" not in text, qualified
        assert "S3Client" not in text, qualified
        # Tracing uses OpenTelemetry's API inside; no span or context type is part of ours.
        assert "opentelemetry" not in text, qualified


@pytest.mark.parametrize("module_name", sorted(ADAPTERS))
def test_adapters_are_public_and_keep_their_library_to_themselves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == ADAPTERS[module_name]
    for qualified, function in _public_callables(module):
        text = _signature_text(function)
        for name in ("AIOKafka", "S3Client", "botocore"):
            assert name not in text, f"{qualified} names {name}"


def test_every_service_error_is_in_the_one_tree() -> None:
    from intermission import errors

    for name in ("SettingsError", "StoreUnavailableError", "TamperedSnapshotError"):
        assert issubclass(getattr(intermission.service, name), errors.IntermissionError)
    assert issubclass(errors.LogUnavailableError, errors.UnavailableError)
    assert issubclass(errors.RecordTooLargeError, errors.ServiceError)


# Start-up cost: each of these takes 0.1-0.75 s to import and is needed only by some commands.
_LOADED_ON_USE = (
    "google.genai",
    "dotpromptz",
    "jsonschema",
    "aiokafka",
    "boto3",
    "obstore",
    "prometheus_client",
    "zstandard",
)


def test_importing_the_engine_and_the_cli_loads_no_library_that_is_needed_only_on_use() -> None:
    code = (
        "import sys, intermission, intermission.cli, intermission_producer\n"
        f"heavy = {_LOADED_ON_USE!r}\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith(heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
