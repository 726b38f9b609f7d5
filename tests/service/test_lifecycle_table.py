"""The pause life cycle as a table: every stored state against every event, and what
``lifecycle.decide`` says to do. Pure: no Kafka, no S3, no sleeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from intermission.service.runs.lifecycle import (
    Answer,
    Check,
    Collected,
    Decision,
    Due,
    Event,
    Finished,
    Lost,
    Nothing,
    Pause,
    Reject,
    Renewal,
    Repeat,
    Republish,
    Takeover,
    Tampered,
    Wait,
    Write,
    as_read,
    decide,
)
from intermission_schemas import (
    Claim,
    CollectedAnswer,
    ExpiryPolicy,
    GenerateRequest,
    Message,
    PausedGeneration,
    RestartAnswer,
    Snapshot,
    ToolRequest,
    ToolRequestPart,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)
ME, OTHER = "worker-me", "worker-other"

_PART = ToolRequestPart(
    tool_request=ToolRequest(name="transferMoney", ref="t1", input={"amount": 1}),
    metadata={"interrupt": True},
)
_ANSWER = CollectedAnswer(
    resume_id="r-old", answered_by="alice", restart=RestartAnswer(ref="t1", resumed={"status": "APPROVED"})
)


def _snapshot(status: str, **fields: Any) -> Snapshot:
    base = Snapshot(
        run_id="run-1",
        snapshot_version=1,
        status="pending",
        request=GenerateRequest(run_id="run-1", idempotency_key="run-1"),
        paused=PausedGeneration(messages=[Message(role="model", content=[_PART])], interrupts=[_PART]),
        created_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(minutes=5),
    )
    return msgspec.structs.replace(base, status=status, **fields)  # type: ignore[arg-type]


def _claim(owner: str) -> Claim:
    return Claim(owner=owner, lease_until=NOW + LEASE)


def _resuming(owner: str) -> Pause:
    """Claimed by ``owner`` for resume r-old."""
    claimed = {"claim": _claim(owner), "resumed_by": "r-old", "applied_resumes": ["r-old"]}
    return Pause(snapshot=_snapshot("resuming", answers={"t1": _ANSWER}, **claimed))


# The stored states: every status, with what can be stored around it.
STATES: dict[str, Pause] = {
    "pending": Pause(snapshot=_snapshot("pending")),
    "pending, partly answered by r-old": Pause(snapshot=_snapshot("pending", applied_resumes=["r-old"])),
    "pending, overdue": Pause(snapshot=_snapshot("pending", expires_at=NOW - timedelta(seconds=1))),
    "pending, overdue, respond policy": Pause(
        snapshot=_snapshot(
            "pending",
            expires_at=NOW - timedelta(seconds=1),
            request=GenerateRequest(
                run_id="run-1",
                idempotency_key="run-1",
                expiry=ExpiryPolicy(after_seconds=1, on_expiry="respond", default_output="no"),
            ),
        )
    ),
    "pending, next step stored (rolled back)": Pause(snapshot=_snapshot("pending"), continued=True),
    "pending, run ended (closed)": Pause(snapshot=_snapshot("pending"), ended=True),
    "resuming, my claim": _resuming(ME),
    "resuming, another's claim": _resuming(OTHER),
    # A claim is not rewritten when its step ends: stored after it, the step says it ended.
    "resuming, another's claim, next step stored": msgspec.structs.replace(_resuming(OTHER), continued=True),
    "resolved": Pause(snapshot=_snapshot("resolved", applied_resumes=["r-old"], answers={"t1": _ANSWER})),
    "expired": Pause(snapshot=_snapshot("expired")),
}

EVENTS: dict[str, Event] = {
    "new answer": Answer(resume_id="r-new"),
    "new answer, wrong digest": Answer(resume_id="r-new", digest_matches=False),
    "answer r-old (applied where the state says)": Answer(resume_id="r-old"),
    "signed answer r-old": Answer(resume_id="r-old", signed=True),
    "answer r-old, claim seen a whole lease": Answer(resume_id="r-old", seen_for=LEASE),
    "collected, all refs": Collected(resume_id="r-new", answers={"t1": _ANSWER}, approvals={}),
    "collected, none yet (first of N approvals)": Collected(
        resume_id="r-new", answers={}, approvals={"t1": [_ANSWER]}
    ),
    "deadline": Due(),
    "takeover, claim just seen": Takeover(seen_for=timedelta(0)),
    "takeover, claim seen a whole lease": Takeover(seen_for=LEASE),
    "renewal": Renewal(),
    "finished": Finished(),
}

_STALE = "stale"
R = Reject
# Rows: states; columns: events, in the order of EVENTS. Each cell: what kind of decision, and
# for writes the new status and what follows, for rejections the reason.
EXPECTED: dict[str, list[Any]] = {
    "pending": [
        Check, (R, "digest_mismatch"), Check, Check, Check,
        (Write, "resuming", "resume"), (Write, "pending", "announce"),
        Nothing, Nothing, Nothing, Lost, Nothing,
    ],
    "pending, partly answered by r-old": [
        Check, (R, "digest_mismatch"), Republish, Republish, Republish,
        (Write, "resuming", "resume"), (Write, "pending", "announce"),
        Nothing, Nothing, Nothing, Lost, Nothing,
    ],
    "pending, overdue": [
        (R, "expired"), (R, "digest_mismatch"), (R, "expired"), (R, "expired"), (R, "expired"),
        (Write, "resuming", "resume"), (Write, "pending", "announce"),
        (Write, "expired", "fail_expired"), Nothing, Nothing, Lost, Nothing,
    ],
    "pending, overdue, respond policy": [
        (R, "expired"), (R, "digest_mismatch"), (R, "expired"), (R, "expired"), (R, "expired"),
        (Write, "resuming", "resume"), (Write, "pending", "announce"),
        (Write, "resuming", "resume"), Nothing, Nothing, Lost, Nothing,
    ],
    "pending, next step stored (rolled back)": [
        Tampered, (R, "digest_mismatch"), Tampered, Tampered, Tampered,
        (Write, "resuming", "resume"), (Write, "pending", "announce"),
        Nothing, Nothing, Nothing, Lost, Nothing,
    ],
    "pending, run ended (closed)": [
        (R, _STALE), (R, "digest_mismatch"), (R, _STALE), (R, _STALE), (R, _STALE),
        (Write, "resuming", "resume"), (Write, "pending", "announce"),
        Nothing, Nothing, Nothing, Lost, Nothing,
    ],
    "resuming, my claim": [
        (R, _STALE), (R, "digest_mismatch"), (Write, "resuming", "recover"), (Write, "resuming", "recover"),
        (Write, "resuming", "recover"), (R, _STALE), (R, _STALE),
        Nothing, (Write, "resuming", "recover"), (Write, "resuming", "recover"), (Write, "resuming", "none"),
        (Write, "resolved", "settle"),
    ],
    "resuming, another's claim": [
        (R, _STALE), (R, "digest_mismatch"), Wait, Wait, (Write, "resuming", "recover"),
        (R, _STALE), (R, _STALE), Nothing, Wait, (Write, "resuming", "recover"), Lost, Nothing,
    ],
    "resuming, another's claim, next step stored": [
        (R, _STALE), (R, "digest_mismatch"), Repeat, (R, "replayed"), Repeat,
        (R, _STALE), (R, _STALE), Nothing, Wait, (Write, "resuming", "recover"), Lost, Nothing,
    ],
    "resolved": [
        (R, _STALE), (R, "digest_mismatch"), Nothing, (R, "replayed"), Nothing, (R, _STALE), (R, _STALE),
        Nothing, Nothing, Nothing, Lost, Nothing,
    ],
    "expired": [
        (R, _STALE), (R, "digest_mismatch"), (R, _STALE), (R, _STALE), (R, _STALE), (R, _STALE), (R, _STALE),
        Nothing, Nothing, Nothing, Lost, Nothing,
    ],
}  # fmt: skip


def _kind(decision: Decision) -> Any:
    match decision:
        case Write(snapshot=snapshot, then=then):
            return (Write, snapshot.status, then)
        case Reject(reason=reason):
            return (R, reason)
        case _:
            return type(decision)


CASES = [
    pytest.param(state, event, expected, id=f"{state} | {event}")
    for state, row in EXPECTED.items()
    for event, expected in zip(EVENTS, row, strict=True)
]


def test_the_table_covers_every_state_and_event() -> None:
    assert set(EXPECTED) == set(STATES)


@pytest.mark.parametrize(("state", "event", "expected"), CASES)
def test_decide(state: str, event: str, expected: Any) -> None:
    decision = decide(STATES[state], EVENTS[event], now=NOW, owner=ME, lease=LEASE)
    assert _kind(decision) == expected


def test_a_claim_is_waited_on_for_what_remains_of_a_lease_seen_here() -> None:
    decision = decide(
        STATES["resuming, another's claim"],
        Takeover(seen_for=timedelta(seconds=10)),
        now=NOW,
        owner=ME,
        lease=LEASE,
    )
    assert decision == Wait(remaining=timedelta(seconds=20))


def test_the_owners_clock_does_not_matter_only_the_time_seen_here() -> None:
    """A claim stamped by a clock an hour ahead is taken over after one lease seen here."""
    ahead = msgspec.structs.replace(_claim(OTHER), lease_until=NOW + timedelta(hours=1))
    pause = Pause(snapshot=msgspec.structs.replace(STATES["resuming, another's claim"].snapshot, claim=ahead))
    decision = decide(pause, Takeover(seen_for=LEASE), now=NOW, owner=ME, lease=LEASE)
    assert isinstance(decision, Write)
    assert decision.snapshot.claim is not None
    assert (decision.snapshot.claim.owner, decision.snapshot.claim.takeovers) == (ME, 1)


def test_a_complete_answer_claims_the_pause_for_this_worker() -> None:
    decision = decide(STATES["pending"], EVENTS["collected, all refs"], now=NOW, owner=ME, lease=LEASE)
    assert isinstance(decision, Write)
    assert decision.snapshot.claim == Claim(owner=ME, lease_until=NOW + LEASE)
    assert (decision.snapshot.resumed_by, decision.snapshot.applied_resumes) == ("r-new", ["r-new"])


def test_a_replayed_answer_to_an_ended_claim_repeats_the_step_it_started_first() -> None:
    """The step's worker may have stopped between storing its end and announcing it: the
    replay (indistinguishable from the record redelivered) announces it, then is refused."""
    stepped = STATES["resuming, another's claim, next step stored"]
    decision = decide(stepped, EVENTS["signed answer r-old"], now=NOW, owner=ME, lease=LEASE)
    assert decision == Reject(
        reason="replayed", detail="resume 'r-old' was applied already", repeat_first=True
    )


def test_a_stepped_claim_reads_as_resolved() -> None:
    stepped = STATES["resuming, another's claim, next step stored"]
    assert as_read(stepped).status == "resolved"
    assert as_read(stepped).claim is None
    assert as_read(STATES["resuming, my claim"]).status == "resuming"
