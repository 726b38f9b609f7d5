"""The OpenAPI 3.1 document of the inbox's HTTP API, with schemas from the event types."""

from __future__ import annotations

from functools import cache
from typing import Any

import msgspec
from intermission_schemas import GenerateRequest, InterruptRaised, ResumeRejected, RunCompleted, RunFailed

from .answers import AnswerBody, TokenBody

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


_ERROR = {
    "type": "object",
    "required": ["reason", "detail"],
    "properties": {
        "reason": {
            "type": "string",
            "description": "machine-readable: invalid_body, schema_too_complex, invalid_output, stale, ...",
        },
        "detail": {"type": "string", "description": "what is wrong, for a person"},
        "ref": {"type": ["string", "null"], "description": "the interrupt the problem is about"},
        "field": {"type": ["string", "null"], "description": "dotted path of the offending field"},
    },
}
_OUTCOME = {
    "type": "object",
    "required": ["runId", "resumeId", "outcome"],
    "properties": {
        "runId": {"type": "string"},
        "resumeId": {"type": "string"},
        "outcome": {
            "enum": ["sent", "accepted", "rejected"],
            "description": "sent: published, the worker has not acted within `wait`; accepted: the "
            "worker took it; rejected: the worker refused it (reason and detail say why)",
        },
        "reason": {"type": "string"},
        "detail": {"type": "string"},
    },
}
_RUN = {
    "type": "object",
    "properties": {
        "runId": {"type": "string"},
        "status": {"enum": ["running", "pending", "completed", "failed", "expired"]},
        "pending": {"anyOf": [_ref("InterruptRaised"), {"type": "null"}]},
        "result": {"anyOf": [_ref("RunCompleted"), _ref("RunFailed"), {"type": "null"}]},
        "rejections": {"type": "array", "items": _ref("ResumeRejected")},
        "answers": {"type": "array", "items": {"type": "object"}},
        "deadLetters": {"type": "array", "items": {"type": "object"}},
    },
}
_WAIT = {
    "name": "wait",
    "in": "query",
    "required": False,
    "description": "seconds (up to 30) to wait for the worker's verdict before answering 202",
    "schema": {"type": "number", "minimum": 0, "maximum": 30},
}


_SECURITY = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "from the OIDC issuer",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "intermission_session",
        "description": "after /login",
    },
    "proxy": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Forwarded-User",
        "description": "the configured identity header, believed only from the trusted proxies",
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    return {
        str(code): {"description": "refused; nothing was published", **_json(_ref("Error"))} for code in codes
    }


@cache
def openapi_document() -> dict[str, Any]:
    _, components = msgspec.json.schema_components(
        [GenerateRequest, InterruptRaised, RunCompleted, RunFailed, ResumeRejected, AnswerBody, TokenBody],
        ref_template="#/components/schemas/{name}",
    )
    components.update({"Error": _ERROR, "Outcome": _OUTCOME, "Run": _RUN})
    run_id = {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
    answered = {
        "200": {"description": "the worker's verdict", **_json(_ref("Outcome"))},
        "202": {"description": "published; no verdict yet", **_json(_ref("Outcome"))},
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Intermission inbox",
            "version": "1",
            "description": "Answer paused generations over HTTP. Every answer is checked as the producer "
            "SDK checks it (build_resume) before it is published; the worker checks again.",
        },
        "paths": {
            "/api/pending": {
                "get": {
                    "summary": "List the open pauses (one InterruptRaised per run, with `open` refs)",
                    "responses": {"200": {"description": "open pauses", **_json({"type": "object"})}},
                }
            },
            "/api/runs": {
                "post": {
                    "summary": "Submit a generation request (runId and idempotencyKey default to fresh ids)",
                    "requestBody": {"required": True, **_json(_ref("GenerateRequest"))},
                    "responses": {
                        "202": {"description": "published", **_json({"type": "object"})},
                        **_errors(400, 409, 422),
                    },
                }
            },
            "/api/runs/{run_id}": {
                "get": {
                    "summary": "A run's state, open pause, result and rejected answers",
                    "parameters": [run_id],
                    "responses": {"200": {"description": "the run", **_json(_ref("Run"))}, **_errors(404)},
                }
            },
            "/api/runs/{run_id}/pending": {
                "get": {
                    "summary": "A run's open pause",
                    "parameters": [run_id],
                    "responses": {
                        "200": {"description": "the pause", **_json(_ref("InterruptRaised"))},
                        **_errors(404),
                    },
                }
            },
            "/api/runs/{run_id}/answers": {
                "post": {
                    "summary": "Answer some or all open refs: respond, restart (approve/deny), replaceInput",
                    "parameters": [run_id, _WAIT],
                    "requestBody": {"required": True, **_json(_ref("AnswerBody"))},
                    "responses": {**answered, **_errors(400, 401, 404, 409, 410, 422)},
                }
            },
            "/api/answer/{token}": {
                "post": {
                    "summary": "Redeem a resume token from InterruptRaised: only the answer in the body",
                    "parameters": [
                        {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}},
                        _WAIT,
                    ],
                    "requestBody": {"required": True, **_json(_ref("TokenBody"))},
                    "responses": {**answered, **_errors(400, 403, 404, 409, 410, 422)},
                }
            },
            "/api/events": {
                "get": {
                    "summary": 'Server-sent events: `data: {"runId": ...}` whenever a run changes',
                    "responses": {
                        "200": {"description": "an event stream", "content": {"text/event-stream": {}}}
                    },
                }
            },
        },
        "components": {"schemas": components, "securitySchemes": _SECURITY},
        # Whichever the inbox is configured with; {}: an inbox with a fixed identity (dev).
        "security": [{name: []} for name in _SECURITY] + [{}],
    }
    for operation in (op for path in document["paths"].values() for op in path.values()):
        operation["responses"].update(_errors(401, 503))  # no identity; the issuer is down
    return document
