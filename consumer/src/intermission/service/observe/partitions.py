"""What a subscription may say about its partitions: whether it has joined its group, and how
far behind it is. Optional: a subscription without it is taken as joined and reports no lag.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..ports import Subscription
from .events import PartitionLag

__all__ = ["PartitionView", "partition_view"]


@runtime_checkable
class PartitionView(Protocol):
    def joined(self) -> bool:
        """True once the group gave this member its assignment (which may be empty: a group
        with more members than partitions keeps the spare ones idle, and they are healthy)."""
        ...

    def assignment(self) -> frozenset[tuple[str, int]]:
        """(topic, partition) pairs this member holds now."""
        ...

    async def lag(self) -> tuple[PartitionLag, ...]:
        """For each partition held whose end is known: the records not yet taken."""
        ...


def partition_view(subscription: Subscription) -> PartitionView | None:
    return subscription if isinstance(subscription, PartitionView) else None
