"""Property: whatever malformed records arrive, each ends as a typed dead letter or a typed
rejection, none as poison, none without an outcome, and the partition never stalls (a valid
request sent behind them completes). On the in-memory backend with many examples, and on real
Kafka + SeaweedFS with a few large batches.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from harness import Harness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intermission_schemas import ResumeRejected, RunCompleted

LIMIT = 64 * 1024  # the harness worker's max_record_bytes

_TYPED_DEAD_LETTERS = {"undecodable", "unknown_event", "invalid_fields", "unsupported_version", "oversized"}


def _request(**fields: Any) -> dict[str, Any]:
    return {"type": "GenerateRequest", "runId": "r-1", "idempotencyKey": "k", **fields}


def _resume(**fields: Any) -> dict[str, Any]:
    return {
        "type": "ResumeRequested",
        "runId": f"nobody-{uuid.uuid4().hex[:8]}",
        "resumeId": uuid.uuid4().hex,
        "snapshotVersion": 1,
        "respond": [{"ref": "x", "output": "y"}],
        **fields,
    }


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
odd_ids = st.one_of(
    st.text(min_size=129, max_size=300, alphabet="abc"),
    st.sampled_from(["", "a/b", "../x", "run id", "ü-run", "-leading", "a\nb", "%2F", "a" * 129]),
)

# (topic role, bytes, expected outcome): "dead" for a dead letter, "rejected" for a ResumeRejected.
malformed = st.one_of(
    st.binary(min_size=1, max_size=200)
    .filter(lambda b: not b.lstrip().startswith((b"{", b"[")))
    .map(lambda b: ("requests", b, "dead")),
    json_values.map(lambda v: ("requests", _json([v]), "dead")),
    st.text(min_size=1, max_size=20).map(lambda t: ("requests", _json({"type": t, "runId": "r"}), "dead")),
    json_values.map(
        lambda v: ("requests", _json(_request(tools=v if not isinstance(v, list) else 5)), "dead")
    ),
    odd_ids.map(lambda i: ("requests", _json(_request(runId=i)), "dead")),
    odd_ids.map(lambda i: ("resumes", _json(_resume(resumeId=i)), "dead")),
    st.integers(min_value=2, max_value=10**6).map(lambda v: ("requests", _json(_request(version=v)), "dead")),
    st.integers(max_value=0).map(lambda v: ("resumes", _json(_resume(version=v)), "dead")),
    st.integers(min_value=2, max_value=99).map(
        lambda v: ("resumes", _json(_resume(version=v, newField={"x": 1}, respond=7)), "dead")
    ),
    st.integers(min_value=65, max_value=400).map(
        lambda d: ("requests", _json(_request(input=json.loads("[" * d + "]" * d))), "dead")
    ),
    st.just(("resumes", _json(_resume(respond=[], restart=[])), "dead")),
    st.sampled_from(["bad topic", "", "x" * 250, "a/b"]).map(
        lambda t: ("requests", _json(_request(replyTo=t)), "dead")
    ),
    st.integers(min_value=LIMIT + 1, max_value=LIMIT + 4096).map(lambda n: ("requests", b"x" * n, "dead")),
    st.integers(min_value=LIMIT - 2048, max_value=LIMIT).map(
        lambda n: ("requests", _json(_request(runId="x" * 200))[:n] + b" " * max(0, n - 200), "dead")
    ),
    # Not UTF-8 inside a string (Latin-1, a lone surrogate, an overlong form): undecodable.
    st.sampled_from([b"caf\xe9", b"\xed\xa0\x80", b"\xc0\xaf"]).map(
        lambda b: ("requests", _json(_request(runId="@")).replace(b"@", b), "dead")
    ),
    # Well-formed answers to runs that do not exist: a typed rejection, not a dead letter.
    st.just(None).map(lambda _: ("resumes", _json(_resume()), "rejected")),
)


async def _send_and_check(harness: Harness, batch: list[tuple[str, bytes, str]]) -> None:
    topics = harness.backend.topics
    worker = await harness.start_worker(max_record_bytes=LIMIT)
    dead_before, rejected_before = len(harness.dead_letters), _rejections(harness)
    for role, value, _ in batch:
        await harness.backend.publish_raw(getattr(topics, role), f"key-{uuid.uuid4().hex[:6]}", value)
    sentinel = f"after-{uuid.uuid4().hex[:8]}"
    await harness.submit(sentinel, "plain text")
    await harness.result(sentinel, RunCompleted)  # no stall: the valid request behind them ran
    want_dead = sum(1 for *_, outcome in batch if outcome == "dead")
    want_rejected = sum(1 for *_, outcome in batch if outcome == "rejected")
    await harness.wait_for(
        lambda: (
            len(harness.dead_letters) - dead_before >= want_dead
            and _rejections(harness) - rejected_before >= want_rejected
        ),
        within=60,
    )
    await asyncio.sleep(0.2)  # anything extra would show up now
    await worker.stop()
    letters = harness.dead_letters[dead_before:]
    assert len(letters) == want_dead, [(d.reason, d.detail[:80]) for d in letters]
    assert _rejections(harness) - rejected_before == want_rejected
    assert {d.reason for d in letters} <= _TYPED_DEAD_LETTERS, sorted({d.reason for d in letters})
    for letter in letters:
        assert letter.value_size == len(letter.value) or letter.truncated


def _rejections(harness: Harness) -> int:
    return sum(1 for r in harness.results if isinstance(r, ResumeRejected))


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
async def test_invalid_utf8_is_an_undecodable_dead_letter_not_poison(harness: Harness) -> None:
    not_utf8 = [b"caf\xe9", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80"]
    batch = [("requests", _json(_request(runId="@")).replace(b"@", b), "dead") for b in not_utf8]
    batch += [("resumes", _json(_resume(resumeId="@")).replace(b"@", b), "dead") for b in not_utf8]
    dead_before = len(harness.dead_letters)
    await _send_and_check(harness, batch)
    assert {d.reason for d in harness.dead_letters[dead_before:]} == {"undecodable"}


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(malformed, min_size=1, max_size=12))
async def test_malformed_records_all_get_a_typed_outcome_in_memory(
    harness: Harness, batch: list[tuple[str, bytes, str]]
) -> None:
    await _send_and_check(harness, batch)


@pytest.mark.parametrize("backend", ["real"], indirect=True)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(malformed, min_size=60, max_size=80))
async def test_malformed_records_all_get_a_typed_outcome_on_kafka_and_s3(
    harness: Harness, batch: list[tuple[str, bytes, str]]
) -> None:
    await _send_and_check(harness, batch)
