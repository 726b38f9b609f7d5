"""Where everything of a run lives in the store (relative to the store's prefix).

runs/{run_id}/snapshots/{version:08d}   one pause; version 1 is the first
runs/{run_id}/claims/{version:08d}      the claim on a pause one answer settles: the pause as its
                                        answer (or its expiry) took it, created once
runs/{run_id}/result                    the end of the run
expiries/{deadline}/{run_id}/{version}  an empty marker per pause with a deadline, so a
                                        sweep finds due pauses without reading every run
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

__all__ = [
    "EXPIRY_PREFIX",
    "claim_key",
    "expiry_key",
    "journal_claim_key",
    "journal_model_key",
    "journal_prefix",
    "journal_tool_key",
    "parse_expiry_key",
    "parse_stamp",
    "result_key",
    "run_prefix",
    "snapshot_key",
    "stamp",
]


def snapshot_key(run_id: str, version: int) -> str:
    return f"runs/{run_id}/snapshots/{version:08d}"


def claim_key(run_id: str, version: int) -> str:
    return f"runs/{run_id}/claims/{version:08d}"


def result_key(run_id: str) -> str:
    return f"runs/{run_id}/result"


EXPIRY_PREFIX = "expiries/"


_STAMP = "%Y%m%dT%H%M%S.%fZ"


def stamp(at: datetime) -> str:
    """``at`` in UTC, fixed width: key order is time order."""
    return at.astimezone(UTC).strftime(_STAMP)


def parse_stamp(text: str) -> datetime:
    return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)


def expiry_key(expires_at: datetime, run_id: str, version: int) -> str:
    return f"{EXPIRY_PREFIX}{stamp(expires_at)}/{run_id}/{version:08d}"


def parse_expiry_key(key: str) -> tuple[datetime, str, int]:
    at, run_id, version = key[len(EXPIRY_PREFIX) :].split("/")
    return parse_stamp(at), run_id, int(version)


def run_prefix(run_id: str) -> str:
    return f"runs/{run_id}/"


def journal_prefix(run_id: str, step: int) -> str:
    """Step 0 is a run's first generation; step N continues pause N."""
    return f"runs/{run_id}/journal/{step:08d}/"


def journal_claim_key(run_id: str, step: int) -> str:
    return f"{journal_prefix(run_id, step)}claim"


def journal_model_key(run_id: str, step: int, position: int) -> str:
    return f"{journal_prefix(run_id, step)}model-{position:05d}"


def journal_tool_key(run_id: str, step: int, ref: str) -> str:
    # Refs come from the model: quoted, so any ref is one key segment.
    return f"{journal_prefix(run_id, step)}tool-{quote(ref, safe='')}"
