"""One Kafka producer for everything that publishes: the SDK's transport, the worker, the inbox,
the CLI and the test clients all send through `KafkaProducer`.

It keeps an idempotent aiokafka producer (acks=all) and replaces it after a fatal error (an
idempotent producer that lost its sequence in a long outage answers OutOfOrderSequenceNumber to
everything from then on) or a delivery that does not finish in time. And it tells the two
kinds of failure apart, because a caller must treat them oppositely:

- `BrokerError` (``retriable``): the brokers could not be reached or did not answer in time;
  the same publish can succeed later, so it is retried, as an outage.
- `RecordRefusedError`: the brokers answered and refuse this record for what it is (its topic is
  not a valid name, does not exist and is not created on use, may not be written, or the record
  is over a size limit). No retry can help; the record must get an outcome of its own.

aiokafka alone cannot tell "no such topic" from "no broker": both end, after its request
timeout, in a retriable UnknownTopicOrPartitionError. So a topic this producer has no metadata
for yet is first asked about in a metadata request of its own, whose answer says which it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

# aiokafka ships no type information (no py.typed): its names are Any to mypy.
from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    CorruptRecordException,
    IllegalStateError,
    InvalidProducerEpoch,
    InvalidTimestampError,
    InvalidTopicError,
    KafkaError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    MessageSizeTooLargeError,
    NoError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    ProducerFenced,
    RecordListTooLargeError,
    TopicAuthorizationFailedError,
    UnknownProducerId,
    UnknownTopicOrPartitionError,
    for_code,
)
from aiokafka.protocol.metadata import MetadataRequest  # type: ignore[import-untyped]

from ._errors import BrokerError, ClientUsageError, RecordRefusedError, RefusalReason
from ._lifecycle import StartStop
from ._security import KafkaSecurity
from ._transport import Headers

__all__ = ["DEFAULT_MAX_REQUEST_SIZE", "KafkaProducer"]

_log = logging.getLogger("intermission_producer")

DEFAULT_MAX_REQUEST_SIZE = 1024 * 1024  # aiokafka's and the broker's default (message.max.bytes)
# No linger: aiokafka allows one produce request in flight per broker, so records published
# while one is in flight batch into the next anyway. Measured with bench/service_cycle.py, a 2 ms
# linger added about 3 ms to every hop and lowered throughput at concurrency 64.
LINGER_MS = 0

# The broker's answers that are about the record, not about the brokers' state.
_REFUSALS: dict[type[Exception], RefusalReason] = {
    MessageSizeTooLargeError: "too_large",  # over max_request_size (checked before sending)
    RecordListTooLargeError: "too_large",  # over the broker's or the topic's limit
    InvalidTopicError: "invalid_topic",
    TopicAuthorizationFailedError: "not_authorized",
    CorruptRecordException: "invalid_record",  # e.g. no key for a compacted topic
    InvalidTimestampError: "invalid_record",
}
# After these an idempotent producer sends nothing any more: it is replaced.
_FATAL = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
    ProducerClosed,
    IllegalStateError,
)
# A topic a metadata request says does not exist may be one being created (on use, or by an
# admin on another broker): it counts as missing once it stayed so this long.
_UNKNOWN_TOPIC_GRACE_S = 3.0
_PROBE_INTERVAL_S = 0.2


def broker_error(what: str, exc: KafkaError) -> BrokerError:
    """aiokafka's error as the SDK's, with its class name in the message."""
    # aiokafka marks connection, leadership and coordinator errors retriable; a timeout is
    # not marked, yet the same call may well succeed once the broker answers again.
    retriable = bool(exc.retriable) or isinstance(exc, KafkaTimeoutError)
    detail = str(exc)  # aiokafka's own errors already start with their class name
    if not detail.startswith(type(exc).__name__):
        detail = f"{type(exc).__name__}: {detail}"
    return BrokerError(f"{what}: {detail}", retriable=retriable)


@contextlib.contextmanager
def _classified(what: str, topic: str, size: int, limit: int | None) -> Iterator[None]:
    """aiokafka's errors of a publish as the SDK's: refused (about the record) or not."""
    try:
        yield
    except KafkaError as exc:
        reason = _REFUSALS.get(type(exc))
        if reason is None:
            raise broker_error(what, exc) from exc
        if reason == "too_large":
            where = f"a limit of {limit} bytes" if limit is not None else "the broker's message.max.bytes"
            message = f"{what}: record of {size} bytes exceeds {where} ({type(exc).__name__})"
        else:
            message = f"{what}: refused ({type(exc).__name__}: {exc})"
        raise RecordRefusedError(message, topic=topic, reason=reason, size=size, limit=limit) from exc


class KafkaProducer(StartStop):
    """An idempotent producer (acks=all) that replaces itself when it breaks.

    Use it as ``async with KafkaProducer(...)``, or start() and stop(). ``producer_options`` go
    to aiokafka's producer as they are (tuning); ``security`` says how to reach the brokers.
    Idempotence makes the producer's own retries free of duplicates; it says nothing about a
    caller that publishes the same event twice, so consumers still deduplicate by key.
    """

    DEFAULT_CLIENT_ID: ClassVar[str] = "intermission-producer"

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        security: KafkaSecurity | None = None,
        client_id: str | None = None,
        max_request_size: int = DEFAULT_MAX_REQUEST_SIZE,
        max_batch_size: int | None = None,
        delivery_timeout: float = 120.0,
        producer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.max_request_size = max_request_size
        self.delivery_timeout = delivery_timeout
        # aiokafka keeps one open batch per partition, and a send that finds it full waits until
        # it has been delivered. With its 16 KiB default, concurrent publishes of 2 KB records
        # crawl at ~800/s; batches as large as a request reach ~38 000/s (measured here).
        # The cap is not preallocated, so a large one costs nothing while traffic is light.
        self._options: dict[str, Any] = {
            "bootstrap_servers": bootstrap_servers,
            "client_id": client_id or self.DEFAULT_CLIENT_ID,
            "enable_idempotence": True,
            "acks": "all",
            "linger_ms": LINGER_MS,
            "max_request_size": max_request_size,
            "max_batch_size": max_batch_size or max_request_size,
            **(producer_options or {}),
            **(security or KafkaSecurity()).options(),
        }
        self._producer: Any = None
        self._broken = False
        self._replacing = asyncio.Lock()
        self._retired: set[asyncio.Task[None]] = set()
        self.replacements = 0  # how many times a broken producer was replaced

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        self._producer = await self._started_producer()

    async def _started_producer(self) -> Any:
        producer = AIOKafkaProducer(**self._options)
        try:
            try:
                await producer.start()
            except KafkaError as exc:
                raise broker_error(f"connecting to {self.bootstrap_servers}", exc) from exc
        except BaseException:
            # A broker that cannot be reached must not leave a half-open producer behind.
            await producer.stop()
            raise
        return producer

    async def stop(self) -> None:
        """Flushes what is still buffered, then closes; safe to call twice. A flush that the
        brokers do not take within ``delivery_timeout`` is given up (BrokerError): stopping
        must end even while they are away."""
        producer, self._producer = self._producer, None
        try:
            if producer is not None:
                try:
                    async with asyncio.timeout(self.delivery_timeout):
                        await producer.stop()
                except KafkaError as exc:
                    raise broker_error("flushing the producer", exc) from exc
                except TimeoutError as exc:
                    message = f"flushing the producer: not done in {self.delivery_timeout:g} s"
                    raise BrokerError(message, retriable=True) from exc
        finally:
            await asyncio.gather(*self._retired, return_exceptions=True)

    # -- publishing -------------------------------------------------------------------------

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        """Durable (acks=all) when this returns. Raises `RecordRefusedError` when the brokers
        refuse the record, `BrokerError` when they cannot be reached or answer too late."""
        producer = await self._usable()
        encoded = key.encode()
        size = len(encoded) + len(value)
        what = f"publishing to {topic!r}"
        try:
            if producer.client.cluster.partitions_for_topic(topic) is None:
                await self._check_topic(producer, topic)
            # send() only enqueues and returns a delivery future. Awaiting the two steps apart
            # (rather than send_and_wait) is the same thing, spelled so that it is clear why
            # concurrent publishes share a batch: they all enqueue before the request goes out.
            with _classified(what, topic, size, self.max_request_size):
                delivery = await producer.send(topic, value=value, key=encoded, headers=list(headers) or None)
            # Refused at delivery: the broker's message.max.bytes (or the topic's) is lower.
            # asyncio.timeout, never wait_for: Python 3.11's wait_for returns the result when a
            # cancel arrives as the delivery completes, and the cancelled caller carries on.
            with _classified(what, topic, size, None):
                async with asyncio.timeout(self.delivery_timeout):
                    await asyncio.shield(delivery)
        except TimeoutError as exc:
            self._mark_broken(producer)
            raise BrokerError(f"{what}: no delivery in {self.delivery_timeout:g} s", retriable=True) from exc
        except RecordRefusedError:
            raise
        except BrokerError as exc:
            if isinstance(exc.__cause__, _FATAL) or _sender_died(producer):
                self._mark_broken(producer)
                # Fatal for this producer only: the next publish goes through a new one, so
                # the same call may well succeed (aiokafka marks these errors not retriable,
                # and a caller that trusted that dropped its record).
                raise BrokerError(str(exc), retriable=True) from exc.__cause__
            raise

    async def partitions_for(self, topic: str) -> set[int]:
        """The topic's partition ids; on brokers that create topics on use, this creates it."""
        producer = await self._usable()
        try:
            partitions: set[int] = await producer.partitions_for(topic)
        except KafkaError as exc:
            raise broker_error(f"looking up {topic!r}", exc) from exc
        return partitions

    async def _check_topic(self, producer: Any, topic: str) -> None:
        """Raise RecordRefusedError if the brokers say ``topic`` cannot be written; BrokerError
        if none answers. Returns when it exists, or may (being created)."""
        client = producer.client
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _UNKNOWN_TOPIC_GRACE_S
        while True:
            error = await _topic_error(client, topic)
            if error is NoError:
                return
            late = loop.time() >= deadline
            if error is UnknownTopicOrPartitionError and late:
                raise RecordRefusedError(
                    f"publishing to {topic!r}: no such topic, and the brokers do not create it",
                    topic=topic,
                    reason="unknown_topic",
                )
            reason = _REFUSALS.get(error)
            if reason is not None:
                raise RecordRefusedError(
                    f"publishing to {topic!r}: refused ({error.__name__})", topic=topic, reason=reason
                )
            if late or error not in (UnknownTopicOrPartitionError, LeaderNotAvailableError):
                return  # anything else is the brokers' state: send() waits it out or says so
            await asyncio.sleep(_PROBE_INTERVAL_S)

    # -- replacing a broken producer --------------------------------------------------------

    def _mark_broken(self, producer: Any) -> None:
        if producer is self._producer:
            self._broken = True

    async def _usable(self) -> Any:
        producer = self._producer
        if producer is None:
            raise ClientUsageError("start the Kafka producer first (async with ...)")
        if not self._broken and not _sender_died(producer):
            return producer
        async with self._replacing:
            if self._broken or _sender_died(self._producer):
                fresh = await self._started_producer()  # BrokerError while the brokers are down
                old, self._producer, self._broken = self._producer, fresh, False
                self.replacements += 1
                _log.warning("replaced a broken Kafka producer (replacement %d)", self.replacements)
                retiring = asyncio.create_task(_retire(old))
                self._retired.add(retiring)
                retiring.add_done_callback(self._retired.discard)
        return self._producer


async def _topic_error(client: Any, topic: str) -> type[Exception]:
    """The error class a metadata request for ``topic`` answers (NoError if it exists)."""
    what = f"asking the brokers about {topic!r}"
    node = client.get_random_node()
    if node is None:
        raise BrokerError(f"{what}: no broker known", retriable=True)
    try:
        # Allowing auto-creation: on brokers that create topics on use, this creates it, just
        # as the producer's own metadata request would.
        response = await client.send(node, MetadataRequest([topic], allow_auto_topic_creation=True))
    except KafkaError as exc:
        raise broker_error(what, exc) from exc
    except TimeoutError as exc:
        raise BrokerError(f"{what}: no answer", retriable=True) from exc
    for entry in response.topics:
        if entry[1] == topic:
            found: type[Exception] = for_code(entry[0])
            return found
    missing: type[Exception] = UnknownTopicOrPartitionError
    return missing


def _sender_died(producer: Any) -> bool:
    # aiokafka's producer sends from one background task; once it has died (a fatal broker
    # answer), every later send waits forever. Its public API does not say so, hence the peek.
    sender = getattr(producer, "_sender", None)
    task = getattr(sender, "sender_task", None)
    return task is not None and task.done()


async def _retire(producer: Any) -> None:
    # Bounded: a broken producer's flush can wait forever.
    with contextlib.suppress(Exception, TimeoutError):
        async with asyncio.timeout(5.0):
            await producer.stop()
