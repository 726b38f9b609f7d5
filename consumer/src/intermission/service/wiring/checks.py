"""Checks a worker runs before it serves, and that `intermission doctor` prints.

Each check names the setting to fix when it fails, so a wrong bucket or endpoint stops the
worker at start (exit 2) instead of dead-lettering every record.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable

import msgspec

from ...errors import IntermissionError, SettingsError, StoreUnavailableError
from ..adapters.kafka import describe_topics
from ..ports import RECORD_FRAMING_BYTES, PreconditionFailed, SnapshotStore
from .settings import Settings

__all__ = [
    "Check",
    "check_keys",
    "check_log",
    "check_store",
    "raise_first_failure",
    "run_checks",
    "topic_limit",
]


def topic_limit(settings: Settings) -> int:
    """The max.message.bytes new topics get, and the producer's max_request_size: room for a
    record of max_record_bytes plus its framing."""
    return settings.max_record_bytes + RECORD_FRAMING_BYTES


class Check(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    ok: bool
    detail: str
    setting: str | None = None  # the variable to fix when not ok


async def check_store(settings: Settings, store: SnapshotStore) -> list[Check]:
    """The bucket answers, and honours If-None-Match and If-Match (a probe object, removed)."""
    bucket = f"bucket {settings.bucket!r}" + (
        f" at {settings.s3_endpoint_url}" if settings.s3_endpoint_url else ""
    )
    probe = f"doctor/{uuid.uuid4().hex}"
    setting = "INTERMISSION_BUCKET"
    if settings.s3_endpoint_url is not None:
        setting += " or INTERMISSION_S3_ENDPOINT_URL"
    try:
        bucket_exists = getattr(store, "bucket_exists", None)
        if bucket_exists is not None and not await bucket_exists():
            return [Check(name="object store", ok=False, detail=f"{bucket} does not exist", setting=setting)]
        etag = await _probe_write(store, probe, b"probe", store.create(probe, b"probe"))
        try:
            conditional = True
            with contextlib.suppress(PreconditionFailed):
                await store.create(probe, b"again")
                conditional = False
            with contextlib.suppress(PreconditionFailed):
                await store.replace(probe, b"stale", '"not-the-etag"')
                conditional = False
            await _probe_write(store, probe, b"fresh", store.replace(probe, b"fresh", etag))
        finally:
            await store.delete(probe)
    except IntermissionError as exc:
        return [Check(name="object store", ok=False, detail=f"{bucket}: {exc}", setting=setting)]
    if not conditional:
        return [
            Check(
                name="conditional writes",
                ok=False,
                detail=f"{bucket} ignores If-None-Match or If-Match; claims would not be exclusive",
                setting=setting,
            )
        ]
    return [
        Check(name="object store", ok=True, detail=f"{bucket} answers"),
        Check(name="conditional writes", ok=True, detail="If-None-Match and If-Match are honoured"),
    ]


async def _probe_write(store: SnapshotStore, key: str, data: bytes, write: Awaitable[str]) -> str:
    """The etag of a probe write that must succeed. Its condition can fail only because of its
    own first attempt: S3 stored it and then answered 500 (or the answer was lost), and the
    client's retry met it. Reading the probe back tells; anything else is a faulty store."""
    try:
        return await write
    except PreconditionFailed:
        stored = await store.get(key)
        if stored is not None and stored.data == data:
            return stored.etag
        raise StoreUnavailableError(
            f"a conditional write of the new key {key!r} failed its condition, and the key does "
            "not hold what was written"
        ) from None


async def check_log(settings: Settings) -> list[Check]:
    """The brokers answer, the five topics exist, and their size limit fits the records."""
    assert settings.bootstrap_servers is not None
    try:
        topics = await describe_topics(
            settings.bootstrap_servers, settings.topics.all(), settings.kafka_security()
        )
    except IntermissionError as exc:
        return [
            Check(
                name="Kafka",
                ok=False,
                detail=f"{settings.bootstrap_servers}: {exc}",
                setting="INTERMISSION_BOOTSTRAP_SERVERS",
            )
        ]
    checks = [Check(name="Kafka", ok=True, detail=f"{settings.bootstrap_servers} answers")]
    # Records the worker takes are at most max_record_bytes; what it publishes is kept below
    # that (dead letters are truncated to fit), so a topic must take max_record_bytes.
    needed = settings.max_record_bytes
    for role, name in settings.topics.as_dict().items():
        info = topics.get(name)
        variable = f"INTERMISSION_TOPIC_{role.upper()} (or run `intermission topics create`)"
        if info is None:
            checks.append(Check(name=f"topic {name}", ok=False, detail="does not exist", setting=variable))
        elif info.max_message_bytes is not None and info.max_message_bytes < needed:
            checks.append(
                Check(
                    name=f"topic {name}",
                    ok=False,
                    detail=f"max.message.bytes {info.max_message_bytes} < {needed} needed for records of "
                    f"{settings.max_record_bytes} bytes",
                    setting="INTERMISSION_MAX_RECORD_BYTES (or the topic's max.message.bytes)",
                )
            )
        else:
            limit = f", max.message.bytes {info.max_message_bytes}" if info.max_message_bytes else ""
            checks.append(Check(name=f"topic {name}", ok=True, detail=f"{info.partitions} partitions{limit}"))
    return checks


def check_settings(settings: Settings) -> list[Check]:
    problems = []
    if settings.claim_lease_seconds < 1:
        problems.append(
            Check(
                name="claim lease",
                ok=False,
                detail="under 1 s: owners would lose claims between renewals",
                setting="INTERMISSION_CLAIM_LEASE_SECONDS",
            )
        )
    return problems or [Check(name="settings", ok=True, detail="consistent")]


def check_keys(settings: Settings) -> list[Check]:
    """Which key ids seal, mint tokens and verify answers (never the secrets), so an operator
    sees a rotation's progress on every worker; a malformed ring fails, naming its variable."""
    try:
        seal, tokens, answers = settings.seal_secret(), settings.resume_tokens(), settings.answer_key_set()
    except SettingsError as exc:
        return [Check(name="keys", ok=False, detail=str(exc), setting=exc.variable)]
    answer_ids = [*answers.keys, *(f"{a} (ed25519)" for a in answers.approver_keys)] if answers else []
    return [
        Check(name="seal keys", ok=True, detail=seal.describe() if seal else "none: sha256 only"),
        Check(name="token keys", ok=True, detail=tokens.ring.describe() if tokens else "none: no tokens"),
        Check(name="answer keys", ok=True, detail=", ".join(answer_ids) or "none"),
    ]


async def run_checks(settings: Settings, store: SnapshotStore) -> list[Check]:
    return [
        *check_settings(settings),
        *check_keys(settings),
        *await check_store(settings, store),
        *await check_log(settings),
    ]


def raise_first_failure(checks: list[Check]) -> None:
    for check in checks:
        if not check.ok:
            raise SettingsError(check.setting or check.name, f"{check.name}: {check.detail}")
