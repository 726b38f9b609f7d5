"""What every field of every wire type means, for the JSON Schemas and the AsyncAPI document.

Kept as one table beside the types rather than on each field, so the types stay readable; the
schema export writes each entry as the property's ``description``. ``check_descriptions`` (run by
tests/schemas/test_field_descriptions.py, so by CI) fails when a field has no entry or an entry
names no field: a new field is not done until an integrator can read what it means.
"""

from __future__ import annotations

from typing import Any

__all__ = ["COMMON", "FIELDS", "check_descriptions", "describe"]

COMMON = {
    "type": "The event's type tag: its class name. Readers pick the event type by it.",
    "version": "The event's schema version. It rises only when a default cannot keep old readers right; "
    "a reader refuses a version it does not know rather than misread it.",
    "runId": "The run this event belongs to; also the Kafka record key, so a run's events stay in order.",
    "metadata": "Free-form metadata, kept as given (Genkit's part/message metadata).",
}

_RESUMED = (
    "The `resumed` metadata handed to the restarted tool as `ctx.resumed` and recorded on the restart "
    'part as Genkit\'s `resumed`; any JSON (the seed\'s tools expect {"status": "APPROVED"|"REJECTED"}); '
    "null means `true`."
)

FIELDS: dict[str, dict[str, str]] = {
    "GenerateRequest": {
        "idempotencyKey": "De-duplication: a request whose key the service has seen is not run again.",
        "prompt": "Name of a prompt registered on the worker, rendered with `input`.",
        "input": "Input of the prompt named by `prompt`.",
        "messages": "Inline messages in Genkit's format (after the prompt's, when both are given).",
        "system": "A system instruction.",
        "tools": "Names of tools from the worker's registry the model may call.",
        "interrupts": "Inline interrupts: tools with no code, only JSON Schemas; calling one pauses the run.",
        "config": "Model configuration (temperature, ...), passed to the model as given.",
        "context": "Caller context handed to tools as `ctx.context` (the worker adds `run_id`).",
        "maxTurns": "Most model/tool round trips before the run fails with code max_turns.",
        "replyTo": (
            "Results topic for this run's RunCompleted/RunFailed; the worker's default when absent."
            " A Kafka topic name that is not internal (no '__' prefix, not '.' or '..'), and one"
            " the workers' INTERMISSION_REPLY_TOPICS patterns allow when they set any."
        ),
        "expiry": "What happens when a pause of this run is not answered in time; none: pauses never expire.",
        "approvers": "Who may answer: names (matched against ResumeRequested.answeredBy) and @groups "
        "(matched against the signed answeredGroups); empty means anyone.",
        "tags": "Free-form labels, copied onto this run's events.",
        "approvalRules": "Per tool: who may answer its calls and how many distinct approvals a call "
        "needs before it runs (the first rule naming the tool, else the one for '*').",
        "requestedBy": "Who asked for the run, recorded at submit: that person may not answer its "
        "interrupts (rejected as self_approval).",
    },
    "ApprovalRule": {
        "tool": "The tool (or interrupt) name the rule is for; '*' for every tool without its own rule.",
        "approvers": "Names and @groups who may answer these calls; empty: the request's approvers.",
        "required": "Distinct approvers who must approve (restart) the same call before it runs; one "
        "respond answer (a denial) settles it at once.",
    },
    "ExpiryPolicy": {
        "afterSeconds": "Seconds from the pause to its deadline: 0 to 315619200 (ten years).",
        "onExpiry": "reject: later answers are rejected as expired and the run fails (code expired); "
        "respond: unanswered interrupts get `defaultOutput` and the run continues.",
        "defaultOutput": "With onExpiry respond: the output given to every unanswered interrupt.",
    },
    "InterruptRaised": {
        "snapshot": "Where the pause is stored, its version, and its pause digest.",
        "interrupts": "Every interrupt of the pause, with what a form needs to render and check an answer.",
        "createdAt": "When the pause was stored.",
        "expiresAt": "The pause's deadline; none: it never expires.",
        "answered": "Refs already answered by earlier partial resumes; the others are still open.",
        "tags": "The request's tags.",
        "traceContext": "The run's W3C trace context at this pause (absent when the worker traced "
        "nothing). An answer carries it in its record headers (`answer_headers` in the producer SDK; "
        "`IntermissionClient.resume` does it), so the run stays one trace from request to result.",
        "approvers": "Who may answer, for routing: the request's approvers and those of its approval "
        "rules for the pending tools (names and @groups). Empty: the request named none. The worker "
        "checks each answer itself; this list authorises nothing.",
    },
    "TraceContext": {
        "traceparent": "The W3C `traceparent` value: version, trace id, parent span id and flags.",
        "tracestate": "The W3C `tracestate` value (vendor entries); empty when there are none.",
    },
    "SnapshotRef": {
        "key": "The snapshot's key in the bucket (relative to the worker's prefix).",
        "version": "The pause's version: ResumeRequested.snapshotVersion must name it.",
        "sha256": "The pause digest: sha256 of what never changes about the pause (run, version, request, "
        "history, times, parent). Stable while answers are collected; sign or echo it as pauseDigest.",
    },
    "PendingInterrupt": {
        "ref": "The paused tool call's ref: answers name it.",
        "tool": "The tool (or interrupt) name.",
        "input": "The exact input the model gave the call: what an approver approves.",
        "metadata": "The interrupt's metadata (what the tool passed to ctx.interrupt), or true.",
        "description": "The tool's description.",
        "outputSchema": "JSON Schema a respond answer's output must satisfy.",
        "inputSchema": "JSON Schema a restart's replaceInput must satisfy.",
        "restartable": "True for a tool with code: it can be restarted (re-run, with `resumed` and "
        "optionally a replaced input) as well as answered; false for an interrupt: respond only.",
        "token": "Opaque resume token for this ref (when the service has a token secret): POST an answer "
        "to the inbox's /api/answer/{token}. Single-use; expires with the pause.",
        "approvalsRequired": "Distinct approvals (restarts) the call needs before it runs.",
        "approvedBy": "Who approved the call so far, while it needs more approvals.",
    },
    "ResumeRequested": {
        "resumeId": "De-duplication: a resume id is applied at most once.",
        "snapshotVersion": "The pause version this answers; an older one is rejected as stale.",
        "respond": "Answers that give a paused call its output; the tool does not run.",
        "restart": "Answers that re-run a paused tool (restartable tools only).",
        "answeredBy": "Who answered, for the audit trail and the request's approvers list.",
        "pauseDigest": "The answered InterruptRaised's snapshot.sha256: the worker refuses a stored pause "
        "whose content is not the one the approver saw.",
        "signature": "Proof of who answered and what they saw (workers with answer keys verify it).",
        "answeredGroups": "The answerer's groups as the signing approval system vouches for them; "
        "covered by the signature, and trusted only from an HMAC key bound to those groups.",
    },
    "RespondAnswer": {
        "ref": "The paused call answered.",
        "output": "The tool's output, as if it had run; must satisfy the interrupt's outputSchema.",
        "metadata": "Recorded as Genkit's `interruptResponse` metadata on the tool response.",
    },
    "RestartAnswer": {
        "ref": "The paused call restarted.",
        "resumed": _RESUMED,
        "replaceInput": "The input the tool runs with instead of the model's, when replacesInput is true; "
        "must satisfy inputSchema. The model's request keeps its own input (Genkit's replacedInput).",
        "replacesInput": "True: run with replaceInput (even when it is null). False: keep the model's "
        "input and ignore replaceInput. (replaceInput is the value; replacesInput says whether to use it.)",
    },
    "AnswerSignature": {
        "keyId": "Which key signed: an approval system's HMAC key (INTERMISSION_ANSWER_KEYS on the "
        "workers) or, for ed25519, the approver's own key (INTERMISSION_APPROVER_KEYS; must equal "
        "answeredBy).",
        "algorithm": "hmac-sha256 (a shared secret per approval system) or ed25519 (a key pair per "
        "approver).",
        "issuedAt": "When the answer was signed.",
        "expiresAt": "When the signature stops being accepted (rejected as signature_expired).",
        "calls": "Per answered ref: sha256 of canonical JSON [tool, input] of the call the approver saw; "
        "a mismatch with the stored call is rejected as input_mismatch.",
        "value": "Lowercase hex HMAC-SHA256, or hex Ed25519 signature, of the canonical payload (this "
        "object's description; README: Signed answers; vectors: schemas/testvectors/signed_answers.json).",
    },
    "RunCompleted": {
        "text": "The final model text.",
        "finishReason": "Why the model stopped (stop, length, ...).",
        "output": "Structured output, when the request asked for an output schema.",
        "resultKey": "Key of the stored final history (runs/{runId}/result).",
        "tags": "The request's tags.",
    },
    "RunFailed": {
        "code": "Why: unknown_tool, invalid_request, model_error, tool_error, max_turns, expired, ...",
        "message": "What went wrong, for a person.",
        "tags": "The request's tags.",
    },
    "ResumeRejected": {
        "resumeId": "The rejected ResumeRequested's resumeId.",
        "reason": "Why, machine-readable; the pause stays open for another answer.",
        "detail": "Why, for a person.",
        "snapshotVersion": "The pause version the rejected answer named.",
        "refs": "The refs the problem is about.",
        "field": "For invalid_output / invalid_input: the dotted path of the offending field.",
    },
    "DeadLetter": {
        "topic": "The topic the record came from.",
        "partition": "Its partition.",
        "offset": "Its offset: the original stays there.",
        "key": "The record's key, as bytes (base64 in JSON).",
        "value": "The record's bytes (base64 in JSON), whole unless truncated.",
        "reason": "Why the worker could not take it.",
        "detail": "Why, for a person.",
        "truncated": "True when value holds only the first bytes (the copy would not fit the topic).",
        "valueSize": "The original record's size in bytes.",
    },
    # Stored documents (S3), not events; described so every exported schema is readable.
    "PausedGeneration": {
        "messages": "The history up to the pause, in Genkit's format.",
        "interrupts": "The paused tool calls (derivable from the last message; stored to be cross-checked).",
        "schemaVersion": "The document's schema version.",
    },
    "ChatState": {
        "messages": "The chat's history.",
        "tools": "Names of the chat's registered tools.",
        "interrupts": "Open interrupts, if the chat is paused.",
        "system": "The chat's system instruction.",
        "config": "Model configuration.",
        "inlineTools": "Inline tool definitions.",
        "schemaVersion": "The document's schema version.",
    },
    "Snapshot": {
        "snapshotVersion": "This pause's version (N in runs/{runId}/snapshots/{N}).",
        "status": "pending, resuming (claimed), resolved or expired.",
        "request": "The run's GenerateRequest.",
        "paused": "The paused generation.",
        "createdAt": "When the pause was stored.",
        "expiresAt": "The pause's deadline, if any.",
        "answers": "Answers collected so far, by ref.",
        "appliedResumes": "Resume ids merged into answers (each applied at most once).",
        "resumedBy": "The resume id that claimed the pause.",
        "parentSha256": "The previous step's pause digest: the chain a replay audit walks.",
        "schemaVersion": "The document's schema version.",
        "claim": "Who is resuming the pause and until when (while status is resuming).",
        "traceContext": "The W3C trace context of the span the run paused in; the step that resumes "
        "the pause continues this trace. Absent in pauses stored before tracing.",
        "runStartedAt": "When the run's first step began (the same in every pause of the run); "
        "absent in pauses stored before it was recorded.",
        "approvals": "Approvals of calls that need more than one, by ref, until enough agree.",
    },
    "StoredSnapshot": {
        "snapshot": "The Snapshot, without its request's messages when they are counted below.",
        "requestMessagesStart": "Where the request's messages start in snapshot.paused.messages.",
        "requestMessagesCount": (
            "How many of snapshot.paused.messages are the request's messages (0: the request keeps its own)."
        ),
    },
    "CollectedAnswer": {
        "resumeId": "The resume that brought the answer.",
        "answeredBy": "Who answered.",
        "respond": "The answer, if a respond.",
        "restart": "The answer, if a restart.",
    },
    "Claim": {
        "owner": "The worker resuming the pause.",
        "leaseUntil": "Until when the claim holds unless renewed; then another worker may take over.",
        "takeovers": "How many times the claim was taken over.",
    },
    "RunResult": {
        "completed": "The run's RunCompleted or RunFailed.",
        "messages": "The final history.",
        "parentSha256": "The last pause's digest.",
        "schemaVersion": "The document's schema version.",
        "finishedAt": "When the worker stored the result (absent in results stored before it existed).",
    },
    # Genkit's message format (https://genkit.dev; genkit-schema.json).
    "Message": {
        "role": "Who wrote it: user, model, tool or system.",
        "content": "The message's parts.",
    },
    "ToolRequest": {
        "name": "The tool called.",
        "ref": "The call's ref, matching its response (Gemini's function-call id, or the engine's).",
        "input": "The call's input, as the model gave it.",
        "partial": "True while a streamed request is incomplete.",
    },
    "ToolResponse": {
        "name": "The tool that answered.",
        "ref": "The ref of the request answered.",
        "output": "The tool's output.",
        "content": "Multipart output (Genkit's), when given.",
    },
    "Media": {"url": "The media's URL or data: URL.", "contentType": "Its MIME type."},
    "Resource": {"uri": "The resource's URI."},
    "ToolDefinition": {
        "name": "The tool's name.",
        "description": "What the tool does, for the model.",
        "inputSchema": "JSON Schema of the tool's input.",
        "outputSchema": "JSON Schema of the tool's output.",
    },
    "TextPart": {"text": "Text."},
    "MediaPart": {"media": "A media item."},
    "DataPart": {"data": "Structured data."},
    "ToolRequestPart": {"toolRequest": "A tool call by the model."},
    "ToolResponsePart": {"toolResponse": "A tool's answer to a call."},
    "CustomPart": {"custom": "Custom content (Genkit's custom part)."},
    "ReasoningPart": {"reasoning": "The model's reasoning text."},
    "ResourcePart": {"resource": "A resource reference."},
}


def describe(components: dict[str, Any]) -> dict[str, Any]:
    """``components`` with a description on every property the tables know."""
    described: dict[str, Any] = {}
    for name, schema in components.items():
        properties = schema.get("properties")
        if isinstance(properties, dict):
            table = FIELDS.get(name, {})
            properties = {
                key: value
                if "description" in value or (key not in table and key not in COMMON)
                else {**value, "description": table.get(key) or COMMON[key]}
                for key, value in properties.items()
            }
            schema = {**schema, "properties": properties}
        described[name] = schema
    return described


def check_descriptions(components: dict[str, Any]) -> list[str]:
    """Problems: fields without a description, and table entries that name no field."""
    problems = []
    for name, schema in components.items():
        properties = schema.get("properties") or {}
        problems += [
            f"{name}.{key} has no description"
            for key, value in properties.items()
            if not value.get("description")
        ]
        problems += [
            f"{name}.{key}: described, but no such field"
            for key in FIELDS.get(name, {})
            if key not in properties
        ]
    return problems
