"""Whether a worker should count as ready: joined its group, every dependency answering, and
not shutting down."""

from __future__ import annotations

import msgspec

from ..health import Health
from .events import Dependency
from .partitions import PartitionView

__all__ = ["Readiness", "readiness"]


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    ready: bool
    joined: bool  # the consumer group gave this worker its assignment (possibly empty)
    partitions: int  # partitions held now
    down: list[Dependency]  # dependencies failing since their last success (or probe)
    stopping: bool


def readiness(health: Health, view: PartitionView | None, *, stopping: bool) -> Readiness:
    joined = view.joined() if view is not None else True
    down = sorted(health.down_since())
    return Readiness(
        ready=joined and not down and not stopping,
        joined=joined,
        partitions=len(view.assignment()) if view is not None else 0,
        down=down,
        stopping=stopping,
    )
