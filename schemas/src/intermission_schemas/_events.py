"""Events on Intermission's topics: one tagged union per topic, every event keyed by run id.

    requests    GenerateRequest                          upstream services -> workers
    approvals   InterruptRaised                          workers -> approval systems
    resumes     ResumeRequested                          approval systems -> workers
    results     RunCompleted | RunFailed | ResumeRejected  workers -> whoever asked
    dead-letter DeadLetter                               workers -> operators

The evolution rules of _documents.py hold here too: new fields get defaults, tags never change,
unknown fields are ignored, and ``version`` rises only when a default cannot keep old readers
right. The ``type`` tag is the event's class name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

import msgspec

from ._bounds import MAX_EXPIRY_SECONDS, TOPIC_NAME_PATTERN
from ._documents import PausedGeneration
from ._messages import Message, ToolDefinition, publish
from ._trace_context import TraceContext

EVENT_VERSION = 1

# Identifiers end up in S3 keys, Kafka keys and log lines, so they have a grammar: letters,
# digits and ``._:-``, starting with a letter or digit, at most 128 characters.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
Identifier: TypeAlias = Annotated[
    str, msgspec.Meta(pattern=ID_PATTERN, description="letters, digits and ._:- ; 1 to 128 characters")
]
# A tool-call ref is chosen by the model (Gemini's function-call ids) or by the engine: any
# text without control characters, up to 256 characters.
Ref: TypeAlias = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[^\x00-\x1f\x7f]{1,256}$", description="1 to 256 characters, no control characters"
    ),
]
# Kafka's own topic-name grammar, internal topics ("__...") and "." / ".." excluded.
TopicName: TypeAlias = Annotated[
    str, msgspec.Meta(pattern=TOPIC_NAME_PATTERN, description="a Kafka topic name, not an internal one")
]
Version: TypeAlias = Annotated[int, msgspec.Meta(ge=1)]


class _Event(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="type", tag=True):
    run_id: Identifier
    version: Version = EVENT_VERSION


# -- requests -------------------------------------------------------------------------------


class ExpiryPolicy(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """What happens when nobody answers a pause in time.

    ``reject``: later resumes are rejected as expired and the run fails (RunFailed code expired).
    ``respond``: unanswered interrupts get ``default_output`` and the run continues.
    """

    after_seconds: Annotated[float, msgspec.Meta(ge=0, le=MAX_EXPIRY_SECONDS)]
    on_expiry: Literal["reject", "respond"] = "reject"
    default_output: Any = None


class ApprovalRule(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Who may answer the calls of one tool (or of every tool: ``"*"``), and how many distinct
    approvers must approve (restart) the same call before it runs. One respond answer (a denial,
    or an output given instead of running the tool) settles the call at once."""

    tool: str = "*"
    approvers: list[str] = []  # names and @groups; empty: the request's approvers
    required: Annotated[int, msgspec.Meta(ge=1, le=16)] = 1


class GenerateRequest(_Event, frozen=True, kw_only=True):
    idempotency_key: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    prompt: str | None = None  # a prompt registered on the worker, rendered with ``input``
    input: Any = None
    messages: list[Message] = []  # or inline messages (after the prompt's, if both)
    system: str | None = None
    tools: list[str] = []  # names from the worker's registry
    interrupts: list[ToolDefinition] = []  # inline interrupts: no code, just JSON Schemas
    config: dict[str, Any] | None = None
    context: dict[str, Any] = {}
    max_turns: int = 5
    reply_to: TopicName | None = None  # results topic for this run; the worker's default otherwise
    expiry: ExpiryPolicy | None = None
    approvers: list[str] = []  # who may answer (names, @groups); empty means anyone
    tags: dict[str, str] = {}
    approval_rules: list[ApprovalRule] = []  # per tool: who, and how many distinct approvals
    requested_by: str | None = None  # who asked for the run: never its approver

    def __post_init__(self) -> None:
        publish(self.messages)


RequestEvent: TypeAlias = GenerateRequest


# -- approvals ------------------------------------------------------------------------------


class SnapshotRef(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    key: str
    version: int
    sha256: str  # the pause digest: stable while answers are collected (see the README)


class PendingInterrupt(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One paused tool call, with what a form needs to render and check an answer."""

    ref: str
    tool: str
    input: Any = None
    metadata: Any = None  # the interrupt's metadata (ctx.interrupt(...)), or True
    description: str = ""
    output_schema: dict[str, Any] | None = None  # a respond answer must satisfy this
    input_schema: dict[str, Any] | None = None  # a restart's replaceInput must satisfy this
    restartable: bool = False
    # An opaque resume token for this ref (when the service has a token secret): POST an answer
    # to the inbox's /api/answer/{token} with no other credentials. Single-use; expires with
    # the pause.
    token: str | None = None
    # Distinct approvals (restarts) this call needs before it runs, and who approved so far.
    approvals_required: int = 1
    approved_by: list[str] = []


class InterruptRaised(_Event, frozen=True, kw_only=True):
    snapshot: SnapshotRef
    interrupts: list[PendingInterrupt]
    created_at: datetime
    expires_at: datetime | None = None
    answered: list[str] = []  # refs already answered by earlier partial resumes
    tags: dict[str, str] = {}
    # The run's trace where it paused (the stored pause's), for an answer to carry back.
    trace_context: TraceContext | None = None
    # Who may answer, for routing (webhook filters): the request's approvers and those of its
    # approval rules for the pending tools. Empty: the request named none.
    approvers: list[str] = []


ApprovalEvent: TypeAlias = InterruptRaised


# -- resumes --------------------------------------------------------------------------------


class RespondAnswer(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    ref: Ref
    output: Any
    metadata: Any = None


class RestartAnswer(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    ref: Ref
    resumed: Any = None
    replace_input: Any = None
    replaces_input: bool = False  # distinguishes "replace with null" from "keep the input"


class AnswerSignature(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Proof of who answered and what they saw: an HMAC-SHA256 under the approval system's key
    ``key_id``, or an Ed25519 signature by the approver ``key_id``, of the canonical signing
    payload (``intermission_schemas.signing_payload``):
    run id, snapshot version, pause digest, resume id, approver, issued-at, expiry, the answers,
    and per answered ref the digest of the tool name and exact input the approver was shown."""

    key_id: str
    algorithm: Literal["hmac-sha256", "ed25519"] = "hmac-sha256"
    issued_at: datetime
    expires_at: datetime
    calls: dict[str, str]  # ref -> call_digest(tool, input) as the approver saw the call
    value: str  # hex


class ResumeRequested(_Event, frozen=True, kw_only=True):
    resume_id: Identifier  # de-duplication: a resume is applied at most once
    snapshot_version: Version  # the pause this answers; an older one is stale
    respond: list[RespondAnswer] = []
    restart: list[RestartAnswer] = []
    answered_by: Annotated[str, msgspec.Meta(max_length=256)] = ""
    # The pause digest of the InterruptRaised answered (its snapshot.sha256). When given, the
    # worker refuses a stored pause whose content is not the one the approver saw.
    pause_digest: str | None = None
    # Present when the approval system signs its answers; workers configured with answer keys
    # verify it (and, when they require signatures, reject answers without one).
    signature: AnswerSignature | None = None
    # The answerer's groups, as the signing approval system vouches for them: trusted only in
    # a verified signature by a key bound to those groups, never on their own.
    answered_groups: list[str] = []


ResumeEvent: TypeAlias = ResumeRequested


# -- results --------------------------------------------------------------------------------


class RunCompleted(_Event, frozen=True, kw_only=True):
    text: str
    finish_reason: str
    output: Any = None
    result_key: str = ""  # the stored final history
    tags: dict[str, str] = {}


class RunFailed(_Event, frozen=True, kw_only=True):
    code: str  # unknown_tool, invalid_request, model_error, tool_error, max_turns, expired, ...
    message: str
    tags: dict[str, str] = {}


RejectReason: TypeAlias = Literal[
    "stale",
    "unknown_run",
    "unknown_ref",
    "invalid_output",
    "invalid_input",
    "not_restartable",
    "expired",
    "duplicate",
    "unauthorized",
    # signed answers (workers configured with answer keys)
    "unsigned",
    "bad_signature",
    "signature_expired",
    "replayed",
    "input_mismatch",
    # forged or broken answers: refused, and the pause stays open for a good one
    "digest_mismatch",
    "malformed",
    # who may answer what
    "key_not_bound",
    "self_approval",
    "already_approved",
    "approval_mismatch",
]


class ResumeRejected(_Event, frozen=True, kw_only=True):
    resume_id: str
    reason: RejectReason
    detail: str
    snapshot_version: int = 0
    refs: list[str] = []
    field: str | None = None  # for invalid_output / invalid_input: the offending field


ResultEvent: TypeAlias = RunCompleted | RunFailed | ResumeRejected


# -- dead letters ---------------------------------------------------------------------------


DeadLetterReason: TypeAlias = Literal[
    "undecodable",
    "unknown_event",
    "invalid_fields",
    "unsupported_version",
    "oversized",
    "tampered",
    "poison",
    "schema_too_complex",  # an inline interrupt's JSON Schema beyond intermission_schemas.SchemaLimits
    # Kafka refused what the record led to (its replyTo names a topic that does not exist, is
    # not a valid name or may not be written): no retry can deliver it.
    "unpublishable",
]


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag_field="type", tag=True):
    """A record the worker could not take, with where it is in the log.

    ``value`` is the record's bytes, whole unless ``truncated``: a copy that would not fit the
    dead-letter topic's size limit keeps its first bytes only, and ``value_size`` and the position
    (``topic``, ``partition``, ``offset``) lead to the original, which stays in its topic.
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    reason: DeadLetterReason
    detail: str
    version: int = EVENT_VERSION
    truncated: bool = False
    value_size: int = 0  # the original record's size in bytes


# -- the snapshot stored in S3 --------------------------------------------------------------

SnapshotStatus: TypeAlias = Literal["pending", "resuming", "resolved", "expired"]


class Claim(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Who is resuming a pause, and until when. The owner renews ``lease_until`` while it works;
    another worker takes the pause over only once the lease has lapsed."""

    owner: str
    lease_until: datetime
    takeovers: int = 0


class CollectedAnswer(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    resume_id: str
    answered_by: str
    respond: RespondAnswer | None = None
    restart: RestartAnswer | None = None


class Snapshot(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag=True):
    """One pause of one run. Version N lives at ``runs/{run_id}/snapshots/{N:08d}``.

    ``parent_sha256`` chains each version to the one before, so a replay tool can check that no
    stored step was rewritten.
    """

    run_id: str
    snapshot_version: int
    status: SnapshotStatus
    request: GenerateRequest
    paused: PausedGeneration
    created_at: datetime
    expires_at: datetime | None = None
    answers: dict[str, CollectedAnswer] = {}  # by ref
    applied_resumes: list[str] = []  # resume ids merged into ``answers``
    resumed_by: str | None = None  # the resume id that claimed the pause
    parent_sha256: str | None = None
    schema_version: int = 1
    claim: Claim | None = None  # while status is resuming
    # The span the run paused in: the step that resumes it continues this trace. Absent in
    # pauses stored before tracing, and when the worker ran with no trace.
    trace_context: TraceContext | None = None
    # When the run's first step began, carried from pause to pause, so the step that ends the
    # run knows how long it took across every wait. Absent in pauses stored before it.
    run_started_at: datetime | None = None
    # Approvals (restarts) of calls that need more than one, by ref, until enough agree: then
    # the call's answer moves into ``answers``.
    approvals: dict[str, list[CollectedAnswer]] = {}


class RunResult(msgspec.Struct, frozen=True, kw_only=True, rename="camel", tag=True):
    """The end of a run, at ``runs/{run_id}/result``."""

    run_id: str
    completed: RunCompleted | RunFailed
    messages: list[Message] = []
    parent_sha256: str | None = None
    schema_version: int = 1
    finished_at: datetime | None = None  # when the worker stored it; absent in older results

    def __post_init__(self) -> None:
        publish(self.messages)
