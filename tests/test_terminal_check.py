"""The checker behind ``one_end_per_run``: a repeated end is fine, a different one is not."""

from __future__ import annotations

import pytest
from intermission_schemas import RunCompleted, RunFailed, encode
from terminal_check import EndWatch, assert_one_end

DONE = encode(RunCompleted(run_id="r1", text="ok", finish_reason="stop"))
FAILED = encode(RunFailed(run_id="r1", code="tampered", message="seal"))


def test_the_same_end_published_again_is_one_end() -> None:
    assert_one_end([DONE, DONE, encode(RunCompleted(run_id="r2", text="x", finish_reason="stop"))])


def test_two_different_ends_of_one_run_are_caught() -> None:
    with pytest.raises(AssertionError, match="ended twice"):
        assert_one_end([FAILED, DONE])


def test_runs_on_separate_logs_are_separate() -> None:
    watch = EndWatch()
    watch.saw("log-a", FAILED)
    watch.saw("log-b", DONE)
    assert watch.violations == []
