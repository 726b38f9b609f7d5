"""The seam under the client: what it needs from a log of records, and nothing more.

`KafkaTransport` implements it on Kafka; the service's in-memory log (``intermission.testing.
MemoryLog``) implements it too, so that a client can talk to an in-process worker in tests. Any
object with these methods will do: the protocol is structural, nothing has to inherit from it.

Three operations:

``publish``     one record, keyed (the key picks the partition, hence the order), with headers
                (the client sends W3C ``traceparent``/``tracestate`` in them), durable when it
                returns.
``read``        no consumer group: every partition of the topics, from their beginning or their
                current end, nothing committed. The positions are fixed when the context is
                entered, so a record published after that is never missed ("read, then submit").
                With ``until_end`` the iteration stops at the end offsets found on entering.
``read_group``  a consumer group: the group shares the partitions and a record is committed when
                the caller asks for the next one, so the last record handled before a crash is
                delivered again. ``from_beginning`` applies to a group with no commits yet.

Records come in offset order per partition. Across partitions and topics there is no order but
``timestamp``, which only needs to be comparable between the topics of one transport (Kafka:
the record time in ms).

Errors: a broker failure is a `BrokerError` (with ``.retriable``), never the broker client's own
exception type, so that callers handle one error whichever transport runs below them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Literal, Protocol

from ._tracing import Headers

__all__ = ["Headers", "Start", "Transport", "TransportRecord"]

Start = Literal["beginning", "end"]


class TransportRecord(Protocol):
    """A record read from a transport. Read-only, so frozen structs and dataclasses fit."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...  # None: a tombstone
    @property
    def timestamp(self) -> int: ...


class Transport(Protocol):
    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        """Returns once ``value`` (with ``headers``, Kafka's (name, bytes) pairs) is durable on
        ``topic``; BrokerError otherwise."""
        ...

    def read(
        self, topics: Sequence[str], *, start: Start, until_end: bool = False
    ) -> AbstractAsyncContextManager[AsyncIterator[TransportRecord]]:
        """Every partition of ``topics`` without a group, positioned when entered."""
        ...

    def read_group(
        self, topics: Sequence[str], group_id: str, *, from_beginning: bool = False
    ) -> AbstractAsyncContextManager[AsyncIterator[TransportRecord]]:
        """``topics`` in consumer group ``group_id``, committing each record as the next is asked for."""
        ...
