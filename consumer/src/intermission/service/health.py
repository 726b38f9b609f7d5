"""What the worker knows about its dependencies: up, or down since when and why.

A dependency is marked down by the first UnavailableError from it and up again by the next
success. Each change is one log line and one ``DependencyChanged`` observation; while anything
is down, one summary line a minute.
"""

from __future__ import annotations

import logging
import time

from ..errors import LogUnavailableError, StoreUnavailableError, UnavailableError
from .observe.events import Dependency, DependencyChanged
from .observe.observer import NO_OBSERVER, Observer

__all__ = ["Dependency", "Health"]

log = logging.getLogger("intermission.worker")

_SUMMARY_EVERY_S = 60.0


def dependency_of(error: UnavailableError) -> Dependency:
    match error:
        case StoreUnavailableError():
            return "store"
        case LogUnavailableError():
            return "log"
        case _:
            return "store"


class Health:
    def __init__(self, observer: Observer = NO_OBSERVER) -> None:
        self.observer = observer
        self._down: dict[Dependency, tuple[float, str, int]] = {}  # since, first error, failures
        self._last_summary = 0.0

    @property
    def healthy(self) -> bool:
        return not self._down

    def down_since(self) -> dict[Dependency, float]:
        return {name: since for name, (since, _, _) in self._down.items()}

    def failed(self, error: UnavailableError) -> None:
        name = dependency_of(error)
        now = time.monotonic()
        if name not in self._down:
            self._down[name] = (now, str(error), 1)
            self.observer.observe(DependencyChanged(dependency=name, up=False))
            log.error("%s unavailable: %s; holding new records and retrying", name, error)
            return
        since, first, failures = self._down[name]
        self._down[name] = (since, first, failures + 1)
        if now - self._last_summary >= _SUMMARY_EVERY_S:
            self._last_summary = now
            for each, (began, reason, count) in self._down.items():
                log.error(
                    "%s still unavailable after %.0f s (%d failed attempts; first: %s)",
                    each,
                    now - began,
                    count,
                    reason,
                )

    def succeeded(self, *names: Dependency) -> None:
        for name in names or tuple(self._down):
            entry = self._down.pop(name, None)
            if entry is not None:
                self.observer.observe(DependencyChanged(dependency=name, up=True))
                log.warning(
                    "%s available again after %.1f s (%d failed attempts)",
                    name,
                    time.monotonic() - entry[0],
                    entry[2],
                )
