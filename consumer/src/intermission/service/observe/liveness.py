"""Whether the worker gets records done: what ``/healthz`` answers besides answering at all.

A loop that answers HTTP can still be stuck: a record retried forever holds its partition (and,
while it waits out what looks like an outage, every new record) with ``/readyz`` down and
``/healthz`` fine, so Kubernetes never restarts the pod. `Progress` watches the records the
worker takes and finishes (its observations, so the worker needs no hook of its own): once
records have waited and none finished for ``stall_after`` seconds, the worker is stalled, and a
restart is the remedy left. An idle worker (nothing waiting) is never stalled.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from .events import Observation, RecordHandled, RecordTaken

__all__ = ["Progress", "Stall"]


class Stall(msgspec.Struct, frozen=True, kw_only=True):
    """What ``/healthz`` answers (as JSON, with 503) while the worker is stalled."""

    stalled_seconds: float  # since a record last finished, or since records began to wait
    waiting: int  # records taken and not finished
    limit_seconds: float


class Progress:
    """An observer of RecordTaken and RecordHandled. ``stall_after`` 0 never reports a stall.

    ``clock`` is monotonic seconds (injected by tests)."""

    def __init__(self, stall_after: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.stall_after = stall_after
        self._clock = clock
        self._waiting = 0
        self._since = clock()  # of the last progress, or of the first record to wait since

    def observe(self, event: Observation) -> None:
        match event:
            case RecordTaken():
                if self._waiting == 0:
                    self._since = self._clock()
                self._waiting += 1
            case RecordHandled():
                # Any way a record leaves counts as progress, even an abandoned one: the
                # worker chose to let it go, it is not stuck on it.
                self._waiting = max(0, self._waiting - 1)
                self._since = self._clock()
            case _:
                pass

    def stall(self) -> Stall | None:
        """The stall, if records have waited without any finishing for longer than allowed."""
        if not self.stall_after or self._waiting == 0:
            return None
        stalled = self._clock() - self._since
        if stalled <= self.stall_after:
            return None
        return Stall(stalled_seconds=round(stalled, 1), waiting=self._waiting, limit_seconds=self.stall_after)
