"""Stored objects in every format this release reads, with and without zstd, and what happens to
one that is tampered with or cannot be read.

``data/seal2_store`` was written by the release before snapshots stored their history once (see
``data/write_seal2_store.py``); it is never regenerated.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import uuid
from pathlib import Path

import msgspec
import pytest
from harness import Harness, approve
from intermission.errors import TamperedSnapshotError, UnreadableSnapshotError
from intermission.service import Sealer, audit_run, snapshot_key
from intermission.service.adapters.local import LocalSnapshotStore
from intermission.service.runs import compression
from intermission.service.runs.keys import claim_key
from intermission.service.runs.sealing import pause_digest
from intermission.service.runs.snapshots import Snapshots
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_schemas import (
    GenerateRequest,
    Message,
    RunCompleted,
    RunFailed,
    TextPart,
    decode_approval,
    encode,
)
from service_app import build

FIXTURE = Path(__file__).parent / "data" / "seal2_store"
FIXTURE_KEY = b"seal2-fixture-key"
KEY = b"test-key"


def old_store(directory: Path) -> LocalSnapshotStore:
    shutil.copytree(FIXTURE / "objects", directory / "objects")
    return LocalSnapshotStore(directory)


def turns(count: int) -> list[Message]:
    """``count`` earlier exchanges after the user's "transfer" (what the scripted model acts on),
    each about the length of a short chat message."""
    history = [Message(role="user", content=[TextPart("transfer")])]
    for i in range(count):
        question = f"Turn {i}: before that, what did the statement for account ABC-{i:04d} say last month?"
        answer = f"Turn {i}: it listed {i + 3} payments, the largest to a landlord; balance {4200 + i}.00."
        history.append(Message(role="model", content=[TextPart(answer)]))
        history.append(Message(role="user", content=[TextPart(question)]))
    return history


def request(run_id: str, prior_turns: int) -> GenerateRequest:
    return GenerateRequest(
        run_id=run_id,
        idempotency_key=run_id,
        system="You move money only when asked.",
        messages=turns(prior_turns),
        tools=["transferMoney"],
    )


async def paused_run(service: ServiceHarness, prior_turns: int) -> tuple[str, bytes]:
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    await service.client.submit(request(run_id, prior_turns))
    await service.interrupt(run_id)
    stored = await service.store.get(snapshot_key(run_id, 1))
    assert stored is not None
    return run_id, stored.data


# -- what the previous release stored -----------------------------------------------------------


async def test_objects_stored_by_the_previous_release_still_load_and_audit(tmp_path: Path) -> None:
    store = old_store(tmp_path)
    sealer = Sealer(FIXTURE_KEY, compression="zstd")  # the setting only changes what is written
    snapshots = Snapshots(store, sealer)
    raw = await store.get(snapshot_key("seal2-pending", 1))
    assert raw is not None
    assert raw.data.startswith(b"intermission-seal/2 hmac-sha256=")
    assert raw.data.count(b"ABC123, the usual one.") == 2  # the old form: the history twice

    pending = await snapshots.load("seal2-pending", 1)
    assert pending is not None
    assert pending.snapshot.status == "pending"
    assert [m.text for m in pending.snapshot.request.messages] == [
        "transfer",
        "Which account should receive it?",
        "ABC123, the usual one.",
    ]
    announced = decode_approval((FIXTURE / "seal2-pending.interrupt.json").read_bytes())
    assert pause_digest(pending.snapshot) == announced.snapshot.sha256

    done = await snapshots.load("seal2-done", 1)
    assert done is not None
    assert done.snapshot.status == "resolved"
    result = await snapshots.load_result("seal2-done")
    assert result is not None
    assert isinstance(result.completed, RunCompleted)
    for run_id in ("seal2-done", "seal2-pending"):
        assert (await audit_run(store, sealer, run_id)).intact


@pytest.mark.parametrize("codec", ["none", "zstd"])
async def test_a_pause_stored_by_the_previous_release_resumes_on_this_one(tmp_path: Path, codec: str) -> None:
    old_store(tmp_path)
    ai, transfers = build()
    settings = Settings(seal_key=FIXTURE_KEY.decode(), snapshot_compression=codec)
    announced = decode_approval((FIXTURE / "seal2-pending.interrupt.json").read_bytes())
    async with ServiceHarness(ai, settings=settings, directory=tmp_path) as service:
        ref = announced.interrupts[0].ref
        await service.client.restart(announced, {ref: {"status": "APPROVED"}}, answered_by="bob")
        done = await service.result("seal2-pending")
        assert isinstance(done, RunCompleted)
        assert transfers == [{"toAccountId": "ABC123", "amount": 100000}]
        # The old pause is left as stored; its claim is in this release's form, with the codec
        # of the setting.
        claimed = await service.store.get(claim_key("seal2-pending", 1))
        assert claimed is not None
        header = b"intermission-seal/3 zstd " if codec == "zstd" else b"intermission-seal/2 "
        assert claimed.data.startswith(header)
        pause = await service.store.get(snapshot_key("seal2-pending", 1))
        assert pause is not None
        assert pause.data.startswith(b"intermission-seal/2 hmac-sha256=")
        assert (await audit_run(service.store, Sealer(FIXTURE_KEY), "seal2-pending")).intact


# -- this release's form --------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["none", "zstd"])
async def test_a_stored_pause_reads_back_as_written_with_and_without_zstd(tmp_path: Path, codec: str) -> None:
    ai, _ = build()
    settings = Settings(seal_key=KEY.decode(), snapshot_compression=codec)
    async with ServiceHarness(ai, settings=settings, directory=tmp_path) as service:
        run_id, data = await paused_run(service, prior_turns=10)
        header = b"intermission-seal/3 zstd " if codec == "zstd" else b"intermission-seal/2 "
        assert data.startswith(header)
        snapshots = Snapshots(service.store, Sealer(KEY))
        loaded = await snapshots.load(run_id, 1)
        assert loaded is not None
        assert loaded.snapshot.request == request(run_id, 10)
        # A status change rewrites it in the same form, and it still reads back.
        resolved = msgspec.structs.replace(loaded.snapshot, status="resolved")
        await snapshots.replace(loaded, resolved)
        again = await snapshots.load(run_id, 1)
        assert again is not None
        assert again.snapshot == resolved
        assert pause_digest(again.snapshot) == pause_digest(loaded.snapshot)


async def test_a_50_turn_pause_is_stored_in_at_most_1_1x_its_history_uncompressed(tmp_path: Path) -> None:
    ai, _ = build()
    async with ServiceHarness(ai, settings=Settings(seal_key=KEY.decode()), directory=tmp_path) as service:
        run_id, data = await paused_run(service, prior_turns=50)
        loaded = await Snapshots(service.store, Sealer(KEY)).load(run_id, 1)
    assert loaded is not None
    history = encode(loaded.snapshot.paused.messages)
    assert len(loaded.snapshot.paused.messages) == 103  # system, "transfer", 50 turns, the call
    assert len(data) <= 1.1 * len(history), (len(data), len(history))
    old_form = Sealer(KEY).seal(snapshot_key(run_id, 1), encode(loaded.snapshot))
    assert len(old_form) > 2 * len(history)  # what the previous release stored


# -- tampering and unreadable objects -----------------------------------------------------------


def resealed(key: str, header: bytes, payload: bytes) -> bytes:
    """An object under ``header`` ("intermission-seal/3 <codec>") sealed with KEY: what only a
    holder of the seal key (a worker of some release) can write."""
    digest = hmac.new(KEY, key.encode() + b"\n" + header + b"\n" + payload, hashlib.sha256).hexdigest()
    return header + b" hmac-sha256=" + digest.encode() + b"\n" + payload


def compressed_object(key: str) -> bytes:
    body = encode(turns(20))
    data = Sealer(KEY, compression="zstd").seal(key, body)
    assert data.startswith(b"intermission-seal/3 zstd ")
    assert Sealer(KEY).open(key, data) == body
    return data


def flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


@pytest.mark.parametrize(
    "tamper",
    [
        flip_last_byte,
        lambda data: data.replace(b" zstd ", b" none ", 1),
        lambda data: data.replace(b"hmac-sha256=", b"sha256=", 1),
    ],
    ids=["a payload byte", "the codec name", "the seal kind"],
)
def test_a_tampered_compressed_object_fails_its_seal_before_it_is_decompressed(tamper: object) -> None:
    key = snapshot_key("r1", 1)
    data = tamper(compressed_object(key))  # type: ignore[operator]
    with pytest.raises(TamperedSnapshotError, match="does not match its seal") as caught:
        Sealer(KEY).open(key, data)
    assert not isinstance(caught.value, UnreadableSnapshotError)


def test_a_compressed_object_copied_to_another_key_fails_its_seal() -> None:
    data = compressed_object(snapshot_key("r1", 1))
    with pytest.raises(TamperedSnapshotError, match="does not match its seal"):
        Sealer(KEY).open(snapshot_key("r2", 1), data)


def test_an_unknown_codec_is_a_typed_error_naming_it() -> None:
    key = snapshot_key("r1", 1)
    data = resealed(key, b"intermission-seal/3 brotli", b"\x00\x01 not brotli either")
    with pytest.raises(UnreadableSnapshotError, match="unknown codec 'brotli'") as caught:
        Sealer(KEY).open(key, data)
    assert caught.value.codec == "brotli"
    assert caught.value.key == key
    assert isinstance(caught.value, TamperedSnapshotError)  # handled as tampering, not bad input


def test_a_sealed_payload_that_is_not_zstd_is_a_typed_error() -> None:
    key = snapshot_key("r1", 1)
    data = resealed(key, b"intermission-seal/3 zstd", b"\x28\xb5\x2f\xfd not a frame")
    with pytest.raises(UnreadableSnapshotError, match="zstd"):
        Sealer(KEY).open(key, data)


def test_a_frame_stating_more_than_the_limit_is_refused_before_it_is_allocated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = snapshot_key("r1", 1)
    data = compressed_object(key)
    monkeypatch.setattr(compression, "MAX_BODY_BYTES", 1000)
    with pytest.raises(UnreadableSnapshotError, match="limit 1000"):
        Sealer(KEY).open(key, data)


def test_small_bodies_stay_uncompressed_whatever_the_setting() -> None:
    data = Sealer(KEY, compression="zstd").seal("runs/r1/journal/00000000/claim", b'{"owner":"w1"}')
    assert data.startswith(b"intermission-seal/2 hmac-sha256=")


async def test_a_pause_with_an_unknown_codec_fails_its_run_as_tampered_and_runs_nothing(
    harness: Harness,
) -> None:
    ai, transfers = build()
    worker = await harness.start_worker(ai=ai, seal_key=KEY, compression="zstd")
    run_id = f"run-{uuid.uuid4().hex[:10]}"
    await harness.submit(run_id, "transfer", tools=["transferMoney"])
    raised = await harness.approval(run_id)
    key = snapshot_key(run_id, 1)
    stored = await harness.backend.store.get(key)
    assert stored is not None
    assert stored.data.startswith(b"intermission-seal/3 zstd ")
    payload = stored.data.partition(b"\n")[2]
    await harness.backend.store.replace(
        key, resealed(key, b"intermission-seal/3 zstd9", payload), stored.etag
    )
    await harness.send(harness.backend.topics.resumes, run_id, approve(run_id, raised.interrupts[0].ref))
    failed = await harness.result(run_id, RunFailed)
    letters = await harness.wait_for(lambda: [d for d in harness.dead_letters if d.reason == "tampered"])
    await worker.stop()
    assert failed.code == "tampered"
    assert "unknown codec 'zstd9'" in failed.message
    assert letters[0].detail == failed.message
    assert transfers == []
