"""The worker's start-up store check when S3 stores a probe write and the answer is lost.

S3 may answer 500 after it stored an object; the client retries, and the retry of a conditional
write meets the first attempt's object (412). The check wrote a new key, so only its own write
can be there: it reads the probe back instead of crashing the worker with PreconditionFailed
(seen through a fault proxy answering 500 after the write, tests/faults/test_slow_faults.py).
"""

from __future__ import annotations

from pathlib import Path

from intermission.service.adapters.local import LocalSnapshotStore
from intermission.service.ports import PreconditionFailed
from intermission.service.wiring.checks import check_store
from intermission.service.wiring.settings import Settings


class AnswerLostOnce(LocalSnapshotStore):
    """Each write that succeeds is stored, then reported as its retry would see it: a failed
    condition. Writes the store refuses fail as usual."""

    async def create(self, key: str, data: bytes) -> str:
        await super().create(key, data)
        raise PreconditionFailed(key)

    async def replace(self, key: str, data: bytes, etag: str) -> str:
        await super().replace(key, data, etag)
        raise PreconditionFailed(key)


async def test_a_stored_probe_whose_answer_was_lost_passes_the_check(tmp_path: Path) -> None:
    checks = await check_store(Settings(bucket="b"), AnswerLostOnce(tmp_path))
    assert [(c.name, c.ok) for c in checks] == [("object store", True), ("conditional writes", True)], checks
    assert await LocalSnapshotStore(tmp_path).list("doctor/") == []  # the probe is removed


class WrongObject(LocalSnapshotStore):
    """A store that answers a failed condition for a key nobody wrote: faulty, not bad input."""

    async def create(self, key: str, data: bytes) -> str:
        raise PreconditionFailed(key)


async def test_a_failed_condition_on_a_new_key_is_reported_not_raised(tmp_path: Path) -> None:
    checks = await check_store(Settings(bucket="b"), WrongObject(tmp_path))
    assert [(c.name, c.ok) for c in checks] == [("object store", False)], checks
    assert "failed its condition" in checks[0].detail
