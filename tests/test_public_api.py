"""The public surface, pinned: changing what the packages export must be a deliberate edit here."""

from __future__ import annotations

import inspect
import subprocess
import sys
from types import ModuleType
from typing import Any

import intermission
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
    "Model",
    "ModelChunk",
    "ModelError",
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
    "ToolRequestPart",
    "ToolResponsePart",
    "UnknownToolError",
    "Usage",
    "UsageError",
    "reply",
    "tool_call",
]

SCHEMAS_ALL = [
    "ApprovalEvent",
    "ChatState",
    "CollectedAnswer",
    "CustomPart",
    "DEFAULT_TOPICS",
    "DataPart",
    "DeadLetter",
    "DecodeError",
    "EVENT_VERSION",
    "EventDecodeError",
    "ExpiryPolicy",
    "GenerateRequest",
    "InterruptRaised",
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
    "Snapshot",
    "SnapshotRef",
    "SnapshotStatus",
    "TextPart",
    "ToolDefinition",
    "ToolRequest",
    "ToolRequestPart",
    "ToolResponse",
    "ToolResponsePart",
    "all_json_schemas",
    "asyncapi_document",
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
    "json_schema",
    "with_metadata",
]

PACKAGES = [(intermission, INTERMISSION_ALL), (intermission_schemas, SCHEMAS_ALL)]
IDS = ["intermission", "intermission_schemas"]


def test_pinned_lists_are_sorted_and_unique() -> None:
    for pinned in (INTERMISSION_ALL, SCHEMAS_ALL):
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


@pytest.mark.parametrize("package", [intermission, intermission_schemas], ids=IDS)
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
