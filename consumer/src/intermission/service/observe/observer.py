"""The observation seam: one method, a default that does nothing, and several as one."""

from __future__ import annotations

from typing import Protocol

from .events import Observation

__all__ = ["NO_OBSERVER", "Observer", "Observers"]


class Observer(Protocol):
    def observe(self, event: Observation) -> None:
        """Called on the event loop, in the middle of the work: return quickly, never block."""
        ...


class _NoObserver:
    def observe(self, event: Observation) -> None:
        return None


NO_OBSERVER: Observer = _NoObserver()


class Observers:
    """Each event to each observer, in order."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def observe(self, event: Observation) -> None:
        for observer in self.observers:
            observer.observe(event)
