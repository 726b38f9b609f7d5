"""Key rings for seals and resume tokens: what the release before rings wrote keeps verifying with
the legacy key, a ring of the legacy key alone writes exactly that release's format (readers
before writers), named keys put their id in what they sign, and a retired key is refused.

The stored objects are ``data/seal2_store`` (written by an earlier release, never regenerated); the
tokens below were minted by the release before rings (b3f4b02) and are kept as literals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import test_stored_formats as stored
from intermission.errors import SettingsError, TamperedSnapshotError
from intermission.service import Sealer, audit_run
from intermission.service.adapters.local import LocalSnapshotStore
from intermission.service.runs.keyring import KeyRing, new_key_line, parse_key_ring
from intermission.service.runs.keys import claim_key
from intermission.service.runs.reseal import reseal
from intermission.service.runs.snapshots import Snapshots
from intermission.service.runs.tokens import InvalidToken, ResumeTokens
from intermission.service.wiring.checks import check_keys
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_schemas import RunCompleted, decode_approval
from service_app import build

OLD_TOKEN_SECRET = b"legacy-token-secret"
OLD_TOKEN = (
    "WyJydW4tMSIsMywidHJhbnNmZXJNb25leS00LTAiLDE3OTg4NTkwNDVd.P_x-uBLcUVoC6wvqlCucGDrWGqGws1pepO4Mo61LO2c"
)
OLD_TOKEN_FOREVER = "WyJydW4tMSIsMywidHJhbnNmZXJNb25leS00LTAiLDBd.YYMrAM9ut8TMBvhvP0pxvmhR3ARcIrH3K0YksOWkW4E"
EXPIRES = datetime(2027, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_legacy_ring_writes_the_format_of_the_release_before() -> None:
    ring = KeyRing.single(b"k")
    assert Sealer(ring).seal("a/b", b"{}") == Sealer(b"k").seal("a/b", b"{}")
    assert Sealer(b"k").seal("a/b", b"{}").startswith(b"intermission-seal/2 hmac-sha256=")
    tokens = ResumeTokens(OLD_TOKEN_SECRET)
    assert tokens.mint("run-1", 3, "transferMoney-4-0", EXPIRES) == OLD_TOKEN
    assert tokens.mint("run-1", 3, "transferMoney-4-0", None) == OLD_TOKEN_FOREVER


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_named_seal_keys_rotate_and_retire(compression: str) -> None:
    legacy = Sealer(b"one", compression=compression)  # type: ignore[arg-type]
    rotated = Sealer(KeyRing({"s2": b"two"}, legacy=b"one"), compression=compression)  # type: ignore[arg-type]
    retired = Sealer(KeyRing({"s2": b"two"}))
    body = b'{"x":"' + b"y" * 600 + b'"}'  # big enough to be compressed
    old, new = legacy.seal("k", body), rotated.seal("k", body)
    assert b"hmac-sha256/s2=" in new.partition(b"\n")[0]
    assert rotated.open("k", old) == rotated.open("k", new) == body
    assert retired.open("k", new) == body
    with pytest.raises(TamperedSnapshotError, match="legacy key"):
        retired.open("k", old)
    with pytest.raises(TamperedSnapshotError, match="'s3'"):
        rotated.open("k", new.replace(b"/s2=", b"/s3="))
    # An id swapped for another key of the ring is a foreign seal, not a way around it.
    both = Sealer(KeyRing({"s2": b"two", "s1": b"one"}))
    with pytest.raises(TamperedSnapshotError, match="does not match"):
        both.open("k", new.replace(b"/s2=", b"/s1="))
    with pytest.raises(TamperedSnapshotError, match="does not match"):
        rotated.open("other-key", new)


def test_tokens_rotate_and_retire() -> None:
    rotated = ResumeTokens(KeyRing({"t2": b"two"}, legacy=OLD_TOKEN_SECRET))
    retired = ResumeTokens(KeyRing({"t2": b"two"}))
    claims = rotated.open(OLD_TOKEN)
    assert (claims.run_id, claims.snapshot_version, claims.ref, claims.expires_at) == (
        "run-1",
        3,
        "transferMoney-4-0",
        EXPIRES,
    )
    assert rotated.open(OLD_TOKEN_FOREVER).expires_at is None
    new = rotated.mint("run-1", 3, "transferMoney-4-0", EXPIRES)
    assert new.split(".")[1] == "t2"
    assert retired.open(new) == claims
    assert retired.open(new).resume_id == claims.resume_id  # one pause ref, one resume id
    with pytest.raises(InvalidToken, match="key"):
        retired.open(OLD_TOKEN)
    body, _, mac = new.split(".")
    with pytest.raises(InvalidToken):
        ResumeTokens(KeyRing({"t2": b"two", "t1": b"one"})).open(f"{body}.t1.{mac}")


def test_settings_build_rings_and_name_the_variable_when_malformed() -> None:
    settings = Settings.load({"INTERMISSION_SEAL_KEYS": "k2=two,k1=one", "INTERMISSION_SEAL_KEY": "zero"})
    ring = settings.seal_secret()
    assert ring is not None
    assert (ring.current_id, list(ring.keys), ring.legacy) == ("k2", ["k2", "k1", "legacy"], b"zero")
    first_step = Settings.load({"INTERMISSION_SEAL_KEYS": "legacy=zero,k2=two"}).seal_secret()
    assert first_step is not None
    assert (first_step.current_id, first_step.secret("k2")) == (None, b"two")
    only_legacy = Settings.load({"INTERMISSION_SEAL_KEY": "zero"}).seal_secret()
    assert only_legacy is not None
    assert only_legacy.current_id is None
    tokens = Settings.load({"INTERMISSION_RESUME_TOKEN_SECRETS": "t1=one"}).resume_tokens()
    assert tokens is not None
    assert tokens.ring.current_id == "t1"
    for variable, value in [
        ("INTERMISSION_SEAL_KEYS", "k2"),
        ("INTERMISSION_SEAL_KEYS", "k 2=x"),
        ("INTERMISSION_SEAL_KEYS", "k2=x,k2=y"),
        ("INTERMISSION_RESUME_TOKEN_SECRETS", "a.b=x"),
        ("INTERMISSION_SEAL_KEYS", "legacy=x"),  # and INTERMISSION_SEAL_KEY another secret
    ]:
        bad = Settings.load({variable: value, "INTERMISSION_SEAL_KEY": "zero"})
        build_ring = bad.seal_secret if "SEAL" in variable else bad.resume_tokens
        with pytest.raises(SettingsError) as caught:
            build_ring()
        assert caught.value.variable == variable
        [check] = check_keys(bad)
        assert not check.ok
        assert check.setting == variable
    shown = check_keys(settings)
    assert shown[0].detail == "k2 (current), k1, legacy"
    assert "two" not in str(shown)
    assert "zero" not in str(shown)


def test_a_new_key_line_parses() -> None:
    [(key_id, secret)] = parse_key_ring(new_key_line("k7")).items()
    assert key_id == "k7"
    assert len(secret) >= 43


async def test_the_previous_release_store_resumes_under_a_rotated_ring(tmp_path: Path) -> None:
    stored.old_store(tmp_path)
    ai, _ = build()
    settings = Settings(seal_keys="k2=rotated-seal", seal_key=stored.FIXTURE_KEY.decode())
    announced = decode_approval((stored.FIXTURE / "seal2-pending.interrupt.json").read_bytes())
    async with ServiceHarness(ai, settings=settings, directory=tmp_path) as service:
        ref = announced.interrupts[0].ref
        await service.client.restart(announced, {ref: {"status": "APPROVED"}}, answered_by="bob")
        assert isinstance(await service.result("seal2-pending"), RunCompleted)
        # The old pause is read with the legacy key; its claim, written now, with the ring's first.
        claimed = await service.store.get(claim_key("seal2-pending", 1))
        assert claimed is not None
        assert claimed.data.startswith(b"intermission-seal/2 hmac-sha256/k2=")
        ring = settings.seal_secret()
        assert (await audit_run(service.store, Sealer(ring), "seal2-pending")).intact
        # The finished run was never rewritten: without the legacy key it no longer opens...
        retired = Sealer(KeyRing({"k2": b"rotated-seal"}))
        with pytest.raises(TamperedSnapshotError, match="legacy key"):
            await Snapshots(service.store, retired).load("seal2-done", 1)
        # ... until the bucket is resealed; then the legacy key can go.
        report = await reseal(service.store, Sealer(ring))
        assert report.refused == []
        assert report.resealed >= 3
        done = await Snapshots(service.store, retired).load("seal2-done", 1)
        assert done is not None
        assert (await audit_run(service.store, retired, "seal2-done")).intact


async def test_reseal_never_launders_a_tampered_object(tmp_path: Path) -> None:
    store = LocalSnapshotStore(tmp_path)
    old = Sealer(b"one")
    await store.create("runs/a/snapshots/00000001", old.seal("runs/a/snapshots/00000001", b'{"a":1}'))
    forged = old.seal("runs/b/snapshots/00000001", b'{"b":1}').replace(b'{"b":1}', b'{"b":2}')
    await store.create("runs/b/snapshots/00000001", forged)
    await store.create("index/pending/x", b"")
    ring = Sealer(KeyRing({"s2": b"two"}, legacy=b"one"))
    report = await reseal(store, ring)
    assert (report.resealed, report.unsealed, report.refused) == (1, 1, ["runs/b/snapshots/00000001"])
    kept = await store.get("runs/b/snapshots/00000001")
    assert kept is not None
    assert kept.data == forged
    resealed = await store.get("runs/a/snapshots/00000001")
    assert resealed is not None
    assert Sealer(KeyRing({"s2": b"two"})).open("runs/a/snapshots/00000001", resealed.data) == b'{"a":1}'
