"""An AsyncAPI 3.0 document generated from the event types, for integrators in any language."""

from __future__ import annotations

from typing import Any

from ._events import (
    DeadLetter,
    GenerateRequest,
    InterruptRaised,
    ResumeRejected,
    ResumeRequested,
    RunCompleted,
    RunFailed,
)
from ._jsonschema import schema_components
from ._signing_spec import SIGNED_ANSWERS_SPEC
from ._topics import Topics

_CHANNEL_EVENTS: dict[str, tuple[str, list[Any]]] = {
    "requests": ("receive", [GenerateRequest]),
    "approvals": ("send", [InterruptRaised]),
    "resumes": ("receive", [ResumeRequested]),
    "results": ("send", [RunCompleted, RunFailed, ResumeRejected]),
    "dead_letter": ("send", [DeadLetter]),
}


def asyncapi_document(topics: Topics | None = None) -> dict[str, Any]:
    """The worker's view: it receives requests and resumes, and sends everything else."""
    addresses = (topics or Topics()).as_dict()
    all_types = [t for _, types in _CHANNEL_EVENTS.values() for t in types]
    schemas, components = schema_components(all_types, ref_template="#/components/schemas/{name}")
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel, (action, types) in _CHANNEL_EVENTS.items():
        refs = []
        for type_ in types:
            name = type_.__name__
            messages[name] = {
                "name": name,
                "contentType": "application/json",
                "payload": {"$ref": f"#/components/schemas/{name}"},
                "bindings": {"kafka": {"key": {"type": "string", "description": "run id"}}},
            }
            refs.append({"$ref": f"#/components/messages/{name}"})
        channels[channel] = {
            "address": addresses[channel],
            "messages": {ref["$ref"].rsplit("/", 1)[1]: ref for ref in refs},
        }
        operations[f"{action}_{channel}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
        }
    del schemas
    # The signed bytes in full, where an integrator reading only this document looks for them.
    signature = components["AnswerSignature"]
    components["AnswerSignature"] = {
        **signature,
        "description": f"{signature.get('description', '')}\n\n{SIGNED_ANSWERS_SPEC}".strip(),
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Intermission",
            "version": "1",
            "description": "Generations that pause for approval and resume on any worker.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": components, "messages": messages},
    }
