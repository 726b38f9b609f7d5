"""`until_written`: a journal write that meets a store outage is tried again in place, with a
capped, jittered backoff, for as long as the outage lasts; any other error is raised at once.
The backoff's sleeps are recorded, not slept."""

from __future__ import annotations

import pytest
from intermission.errors import StoreUnavailableError, TamperedSnapshotError
from intermission.service.runs.outage import FIRST_DELAY_S, MAX_DELAY_S, until_written


class Outage:
    """A write that fails with an outage ``failures`` times, then lands."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or StoreUnavailableError("connection refused (test outage)")
        self.attempts = 0

    async def write(self) -> str:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.error
        return "etag"


async def test_a_write_is_retried_through_a_long_outage_with_a_capped_jittered_backoff() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    outage = Outage(failures=40)  # far longer than the backoff takes to reach its cap
    assert await until_written(outage.write, what="journal/tool-1", sleep=sleep) == "etag"
    assert outage.attempts == 41
    assert len(slept) == 40
    assert FIRST_DELAY_S / 2 <= slept[0] <= FIRST_DELAY_S
    assert max(slept) <= MAX_DELAY_S
    assert all(MAX_DELAY_S / 2 <= s <= MAX_DELAY_S for s in slept[-10:])  # capped, not growing
    assert len(set(slept)) > 30  # jittered: workers back from one outage do not retry in step


async def test_only_an_outage_is_retried() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    refused = Outage(failures=1, error=TamperedSnapshotError("runs/x/journal/1/tool-a", "forged"))
    with pytest.raises(TamperedSnapshotError):
        await until_written(refused.write, what="journal/tool-a", sleep=sleep)
    assert refused.attempts == 1
    assert slept == []


async def test_the_outage_is_reported_while_it_is_waited_out_and_its_end_once() -> None:
    class Report:
        def __init__(self) -> None:
            self.failed_ = 0
            self.back: list[tuple[str, ...]] = []

        def failed(self, error: Exception) -> None:
            self.failed_ += 1

        def succeeded(self, *names: str) -> None:
            self.back.append(names)

    async def sleep(seconds: float) -> None:
        pass

    report = Report()
    await until_written(Outage(failures=3).write, what="journal/tool-1", report=report, sleep=sleep)
    assert (report.failed_, report.back) == (3, [("store",)])
    quiet = Report()
    await until_written(Outage(failures=0).write, what="journal/tool-2", report=quiet, sleep=sleep)
    assert (quiet.failed_, quiet.back) == (0, [])
