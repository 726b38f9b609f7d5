"""The pause life cycle, as one pure function: given a stored pause, an event and the time, what
to do. No I/O: claims.py, expiry.py, lease.py and steps.py read the pause, ask ``decide``, then
write and publish what it returns (each write a conditional replace on the etag read, so of two
workers deciding on the same pause only one write lands).

    pending --answer (all refs)--> resuming --step stored--> resolved (or resuming, read as
                                   resolved once the step after it is stored: a claim is not
                                   rewritten when its step ends)
    pending --answer (some refs)-> pending (answers and approvals so far)
    pending --deadline, reject---> expired
    pending --deadline, respond--> resuming (default outputs)
    resuming --lease lapsed------> resuming (taken over: a new claim)

Every status change is made here and nowhere else.

A claim's lease is measured by this worker's own clock: ``Takeover.seen_for`` is how long this
worker has seen the same claim (owner, lease stamp, takeovers) unchanged. A live owner renews,
which changes the claim and starts the count again; a dead one does not, and the claim is taken
over once a whole lease has passed here, whatever the owner's clock said. An answer that was
applied is never rejected: its redelivery finishes what it started.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal, TypeAlias, assert_never

import msgspec
from intermission_schemas import (
    Claim,
    CollectedAnswer,
    RejectReason,
    RespondAnswer,
    Snapshot,
)

from .observed import EXPIRY_RESUME_ID

__all__ = [
    "Answer",
    "Check",
    "Collected",
    "Decision",
    "Due",
    "Event",
    "Finished",
    "Lost",
    "Nothing",
    "Pause",
    "Reject",
    "Renewal",
    "Repeat",
    "Republish",
    "Takeover",
    "Tampered",
    "Wait",
    "Write",
    "as_read",
    "decide",
    "new_claim",
    "rolled_back",
]


class Pause(msgspec.Struct, frozen=True, kw_only=True):
    """A stored pause as read, with what is stored around it."""

    snapshot: Snapshot
    continued: bool = False  # the step after it (the next pause or the run's result) is stored
    ended: bool = False  # the run has a result that does not continue this pause: it is closed


# -- events ---------------------------------------------------------------------------------


class Answer(msgspec.Struct, frozen=True, kw_only=True):
    """A ResumeRequested arrived: may it be checked and applied?"""

    resume_id: str
    signed: bool = False
    digest_matches: bool = True  # its pauseDigest (if any) names this pause
    seen_for: timedelta = timedelta(0)  # see Takeover: for a redelivery of a claimed answer


class Collected(msgspec.Struct, frozen=True, kw_only=True):
    """The answer was checked: the pause's answers and approvals with it merged in."""

    resume_id: str
    answers: dict[str, CollectedAnswer]
    approvals: dict[str, list[CollectedAnswer]]


class Due(msgspec.Struct, frozen=True, kw_only=True):
    """The sweep (or a late answer) found the pause past its deadline."""


class Takeover(msgspec.Struct, frozen=True, kw_only=True):
    """A worker holding a record of a claimed pause: how long it has seen the claim unchanged."""

    seen_for: timedelta


class Renewal(msgspec.Struct, frozen=True, kw_only=True):
    """The owner of a claim renews its lease."""


class Finished(msgspec.Struct, frozen=True, kw_only=True):
    """The owner's step is stored: the pause is resolved."""


Event: TypeAlias = Answer | Collected | Due | Takeover | Renewal | Finished


# -- decisions ------------------------------------------------------------------------------


class Reject(msgspec.Struct, frozen=True, kw_only=True):
    reason: RejectReason
    detail: str
    expire_first: bool = False  # the pause is overdue: apply its expiry policy, then reject
    repeat_first: bool = False  # the step after it is stored: announce it again (`Repeat`), then reject


class Tampered(msgspec.Struct, frozen=True, kw_only=True):
    detail: str


class Check(msgspec.Struct, frozen=True, kw_only=True):
    """Check the answer (signature, authority, values), then decide on Collected."""


class Republish(msgspec.Struct, frozen=True, kw_only=True):
    """A redelivered partial answer: announce the pause again (its first announcement may have
    been lost in a crash)."""


class Repeat(msgspec.Struct, frozen=True, kw_only=True):
    """A redelivered answer whose step is stored: announce the step's pause or end again (its
    worker may have stopped between storing it and publishing it). Nothing is written."""


class Wait(msgspec.Struct, frozen=True, kw_only=True):
    """Another worker's claim is live: look again after ``remaining``."""

    remaining: timedelta


class Nothing(msgspec.Struct, frozen=True, kw_only=True):
    """Settled already: nothing to write or publish."""


class Lost(msgspec.Struct, frozen=True, kw_only=True):
    """A renewal found the claim no longer this worker's."""


Then: TypeAlias = Literal[
    "announce",  # publish InterruptRaised (answers and approvals so far)
    "resume",  # run the step under the new claim
    "recover",  # finish a taken-over step (repeat its stored outcome, or run it from the journal)
    "fail_expired",  # publish RunFailed(expired)
    "settle",  # drop the deadline and pending markers
    "none",
]


class Write(msgspec.Struct, frozen=True, kw_only=True):
    """Replace the pause with ``snapshot`` (conditionally), then do ``then``."""

    snapshot: Snapshot
    then: Then


Decision: TypeAlias = Reject | Tampered | Check | Republish | Repeat | Wait | Nothing | Lost | Write


def decide(pause: Pause, event: Event, *, now: datetime, owner: str, lease: timedelta) -> Decision:
    """What to do about ``event`` for ``pause`` at ``now``, as worker ``owner`` whose claims hold
    for ``lease``."""
    match event:
        case Answer():
            return _answer(pause, event, now=now, owner=owner, lease=lease)
        case Collected():
            return _collected(pause.snapshot, event, now=now, owner=owner, lease=lease)
        case Due():
            return _due(pause.snapshot, now=now, owner=owner, lease=lease)
        case Takeover():
            return _takeover(pause.snapshot, event.seen_for, now=now, owner=owner, lease=lease)
        case Renewal():
            return _renewal(pause.snapshot, now=now, owner=owner, lease=lease)
        case Finished():
            return _finished(pause.snapshot, owner=owner)
        case never:
            assert_never(never)


def _answer(pause: Pause, event: Answer, *, now: datetime, owner: str, lease: timedelta) -> Decision:
    snapshot = pause.snapshot
    if not event.digest_matches:
        # The answer's word against the sealed store: the answer loses. Anyone who can write to
        # the resumes topic can send any digest, so this never fails the run.
        return Reject(
            reason="digest_mismatch", detail="the answer names another pause digest than this pause's"
        )
    applied = event.resume_id in snapshot.applied_resumes
    # Resuming, with its next step stored: the step ended (a claim is not rewritten then); only
    # the step's announcement may be missing, if its worker stopped right after storing it.
    stepped = snapshot.status == "resuming" and pause.continued
    if applied and event.signed and (snapshot.status in ("resolved", "expired") or stepped):
        # Applied once; a signed answer arriving again after its pause was settled is a replay:
        # say so (nothing runs again either way).
        return Reject(
            reason="replayed", detail=f"resume {event.resume_id!r} was applied already", repeat_first=stepped
        )
    if applied or (snapshot.status == "resuming" and snapshot.resumed_by == event.resume_id):
        # A redelivery: finish what it started; never reject an answer that was applied.
        match snapshot.status:
            case "pending":
                return Republish()
            case "resuming":
                if stepped:
                    return Repeat()
                return _takeover(snapshot, event.seen_for, now=now, owner=owner, lease=lease)
            case "resolved" | "expired":
                return Nothing()
            case never:
                assert_never(never)
    if snapshot.status != "pending":
        status = "resolved" if stepped else snapshot.status
        return Reject(reason="stale", detail=f"pause {snapshot.snapshot_version} is already {status}")
    if (tampered := rolled_back(pause)) is not None:
        return tampered
    if pause.ended:
        return Reject(reason="stale", detail=f"run {snapshot.run_id!r} has ended")
    if snapshot.expires_at is not None and now >= snapshot.expires_at:
        return Reject(
            reason="expired",
            detail=f"the pause expired at {snapshot.expires_at.isoformat()}",
            expire_first=True,
        )
    return Check()


def as_read(pause: Pause) -> Snapshot:
    """The pause as readers see it: a claim is not rewritten when its step ends, so a resuming
    pause whose next step is stored reads as resolved."""
    snapshot = pause.snapshot
    if snapshot.status == "resuming" and pause.continued:
        return msgspec.structs.replace(snapshot, status="resolved", claim=None)
    return snapshot


def rolled_back(pause: Pause) -> Tampered | None:
    """A pause still pending although its next step is stored: an older copy was put back (its
    seal holds, and status is outside the digest the chain checks). The worker refuses to answer
    it; ``audit_run`` reports it."""
    if pause.snapshot.status == "pending" and pause.continued:
        return Tampered(detail="is pending, but its next step is stored (rolled back)")
    return None


def _collected(
    snapshot: Snapshot, event: Collected, *, now: datetime, owner: str, lease: timedelta
) -> Decision:
    if snapshot.status != "pending":
        return Reject(
            reason="stale", detail=f"pause {snapshot.snapshot_version} is already {snapshot.status}"
        )
    complete = all(part.tool_request.ref in event.answers for part in snapshot.paused.interrupts)
    updated = msgspec.structs.replace(
        snapshot,
        answers=event.answers,
        approvals=event.approvals,
        applied_resumes=[*snapshot.applied_resumes, event.resume_id],
        status="resuming" if complete else "pending",
        resumed_by=event.resume_id if complete else None,
        claim=new_claim(owner, now, lease) if complete else None,
    )
    return Write(snapshot=updated, then="resume" if complete else "announce")


def _due(snapshot: Snapshot, *, now: datetime, owner: str, lease: timedelta) -> Decision:
    if snapshot.status != "pending" or snapshot.expires_at is None or now < snapshot.expires_at:
        return Nothing()
    policy = snapshot.request.expiry
    if policy is not None and policy.on_expiry == "respond":
        answers = dict(snapshot.answers)
        for part in snapshot.paused.interrupts:
            ref = part.tool_request.ref or ""
            if ref not in answers:
                answers[ref] = CollectedAnswer(
                    resume_id=EXPIRY_RESUME_ID,
                    answered_by="expiry-policy",
                    respond=RespondAnswer(ref=ref, output=policy.default_output, metadata={"expired": True}),
                )
        claimed = msgspec.structs.replace(
            snapshot,
            answers=answers,
            status="resuming",
            resumed_by=EXPIRY_RESUME_ID,
            claim=new_claim(owner, now, lease),
        )
        return Write(snapshot=claimed, then="resume")
    return Write(snapshot=msgspec.structs.replace(snapshot, status="expired"), then="fail_expired")


def _takeover(
    snapshot: Snapshot, seen_for: timedelta, *, now: datetime, owner: str, lease: timedelta
) -> Decision:
    if snapshot.status != "resuming":
        return Nothing()  # resolved or expired: its outcome was published before the status moved
    claim = snapshot.claim
    if claim is not None and claim.owner != owner and seen_for < lease:
        # The owner may still be working (a rebalance handed this record over while it ran the
        # tools): wait for it to finish, or for a whole lease to pass here with no renewal.
        return Wait(remaining=lease - seen_for)
    takeovers = claim.takeovers + 1 if claim is not None else 1
    taken = msgspec.structs.replace(snapshot, claim=new_claim(owner, now, lease, takeovers))
    return Write(snapshot=taken, then="recover")


def _renewal(snapshot: Snapshot, *, now: datetime, owner: str, lease: timedelta) -> Decision:
    claim = snapshot.claim
    if snapshot.status != "resuming" or claim is None or claim.owner != owner:
        return Lost()
    renewed = msgspec.structs.replace(claim, lease_until=now + lease)
    return Write(snapshot=msgspec.structs.replace(snapshot, claim=renewed), then="none")


def _finished(snapshot: Snapshot, *, owner: str) -> Decision:
    if snapshot.status != "resuming":
        return Nothing()
    if snapshot.claim is not None and snapshot.claim.owner != owner:
        return Nothing()  # taken over: the new owner resolves it
    resolved = msgspec.structs.replace(snapshot, status="resolved", claim=None)
    return Write(snapshot=resolved, then="settle")


def _stale(snapshot: Snapshot) -> Reject:
    return Reject(reason="stale", detail=f"pause {snapshot.snapshot_version} is already {snapshot.status}")


def new_claim(owner: str, now: datetime, lease: timedelta, takeovers: int = 0) -> Claim:
    return Claim(owner=owner, lease_until=now + lease, takeovers=takeovers)
