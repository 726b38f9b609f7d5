"""Which offset a lane may commit: per partition, the records in the order taken, and the
longest finished run from the front. A record finished out of order (a later event delivered
while an earlier one is still retrying) waits for the ones before it, so a restart re-delivers
everything not yet delivered and nothing is lost; what was delivered after it comes again,
under the same webhook id."""

from __future__ import annotations

from collections import deque

from ..service.ports import Record

__all__ = ["CommitTracker", "Ticket"]


class Ticket:
    __slots__ = ("done", "record")

    def __init__(self, record: Record) -> None:
        self.record = record
        self.done = False


class CommitTracker:
    def __init__(self) -> None:
        self._queues: dict[tuple[str, int], deque[Ticket]] = {}
        self._open = 0

    @property
    def open(self) -> int:
        """Records taken and not finished."""
        return self._open

    def take(self, record: Record) -> Ticket:
        ticket = Ticket(record)
        self._queues.setdefault((record.topic, record.partition), deque()).append(ticket)
        self._open += 1
        return ticket

    def finish(self, ticket: Ticket) -> Record | None:
        """Mark ``ticket`` done; the record to commit now (the last of the finished front of its
        partition), or None when an earlier one is still open (or the partition was revoked)."""
        if ticket.done:
            return None
        ticket.done = True
        self._open -= 1
        queue = self._queues.get((ticket.record.topic, ticket.record.partition))
        if queue is None or ticket not in queue:
            return None
        last: Record | None = None
        while queue and queue[0].done:
            last = queue.popleft().record
        return last

    def forget(self, partitions: frozenset[tuple[str, int]]) -> None:
        """A rebalance took these partitions: their new owner re-reads from the last commit."""
        for partition in partitions:
            for ticket in self._queues.pop(partition, ()):
                if not ticket.done:
                    ticket.done = True
                    self._open -= 1
