"""IntermissionClient: one async client for upstream services, approval systems and replay tools."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable, Mapping, Set
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.errors import CommitFailedError, IllegalStateError  # type: ignore[import-untyped]
from intermission_schemas import (
    ApprovalEvent,
    GenerateRequest,
    InterruptRaised,
    ResultEvent,
    ResumeRequested,
    RunCompleted,
    RunFailed,
    Topics,
    decode_approval,
    decode_result,
    encode,
)

from ._answers import build_resume
from ._errors import ClientUsageError, ResultTimeout
from ._reading import Start, decoded, merge_by_time, open_assigned, read_until
from ._requests import check_request
from ._security import KafkaSecurity

__all__ = ["IntermissionClient"]

_log = logging.getLogger("intermission_producer")


class IntermissionClient:
    """Publish and read Intermission's events. Use it as ``async with IntermissionClient(...)``.

    The streams (``interrupts``, ``results``) are async generators: close one you leave early
    with ``contextlib.aclosing`` so its consumer stops at once rather than when collected.

    ``security`` (a `KafkaSecurity`) goes to every Kafka client it creates;
    ``consumer_options`` to its consumers only (fetch and session tuning). Consumers read
    committed records only unless ``consumer_options`` says otherwise, so an event from an
    aborted worker transaction is never seen. One idempotent producer (acks=all) publishes
    everything: a retried send cannot duplicate or reorder a run's events.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topics: Topics = Topics(),  # noqa: B008 - frozen, so one shared default is safe
        security: KafkaSecurity | None = None,
        client_id: str = "intermission-producer",
        consumer_options: dict[str, Any] | None = None,
    ) -> None:
        self.topics = topics
        self._bootstrap_servers = bootstrap_servers
        self._security = (security or KafkaSecurity()).options()
        self._client_id = client_id
        self._consumer_options = dict(consumer_options or {})
        self._producer: AIOKafkaProducer | None = None

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._producer is not None:
            raise ClientUsageError("the client is already open")
        producer = AIOKafkaProducer(
            **self._security,
            bootstrap_servers=self._bootstrap_servers,
            client_id=self._client_id,
            acks="all",
            enable_idempotence=True,
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # start() may have opened connections before it failed
            raise
        self._producer = producer
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()  # flushes what is still buffered

    def _require_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise ClientUsageError("use the client inside `async with IntermissionClient(...)`")
        return self._producer

    def _consumer(self, **required: Any) -> AIOKafkaConsumer:
        options: dict[str, Any] = {
            "isolation_level": "read_committed",
            **self._consumer_options,
            **self._security,
            "bootstrap_servers": self._bootstrap_servers,
            "client_id": self._client_id,
            # Offsets are committed explicitly (interrupts) or not at all (groupless readers).
            "enable_auto_commit": False,
            "group_id": None,
            **required,
        }
        return AIOKafkaConsumer(**options)

    async def _send(self, topic: str, event: GenerateRequest | ResumeRequested) -> None:
        # Keyed by run id: a run's events share a partition, hence an order.
        await self._require_producer().send_and_wait(topic, encode(event), key=event.run_id.encode())

    async def _tail(self, topic: str) -> AIOKafkaConsumer:
        """A started groupless consumer on every partition of ``topic``, at its current end."""
        consumer = self._consumer()
        await open_assigned(self._require_producer(), consumer, [topic], "end")
        return consumer

    # -- upstream services ------------------------------------------------------------------

    async def submit(self, request: GenerateRequest) -> None:
        """Publish ``request`` on the requests topic. Re-submitting it is safe: the service drops
        a request whose idempotency key it has already seen."""
        check_request(request)
        await self._send(self.topics.requests, request)

    # A timeout parameter (not the caller's asyncio.timeout) so that expiry is a ResultTimeout
    # naming the run, distinct from any other TimeoutError.
    async def submit_and_wait(
        self,
        request: GenerateRequest,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> RunCompleted | RunFailed:
        """Submit ``request`` and wait for its RunCompleted or RunFailed.

        ``timeout`` bounds the whole call, including any pauses for approval; on expiry,
        ResultTimeout. The results topic is read from its end *before* the request is sent, so
        a fast result cannot slip past. The request's ``reply_to`` topic is honoured.
        ResumeRejected events are ignored here: they answer an approver, not this caller.
        """
        check_request(request)
        topic = request.reply_to or self.topics.results
        key = request.run_id.encode()
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                consumer = await self._tail(topic)
                try:
                    await self.submit(request)
                    async for record in consumer:
                        if record.key is not None and record.key != key:
                            continue  # someone else's run: not even decoded
                        event = decoded(record, decode_result)
                        if isinstance(event, RunCompleted | RunFailed) and event.run_id == request.run_id:
                            return event
                finally:
                    await consumer.stop()
        except TimeoutError:
            if deadline.expired():
                raise ResultTimeout(request.run_id, timeout) from None
            raise
        raise AssertionError("unreachable: a consumer iterates until stopped")

    async def results(
        self, run_ids: Set[str] | None = None, *, topic: str | None = None
    ) -> AsyncGenerator[ResultEvent, None]:
        """Results published from now on (the end of the topic when iteration starts).

        ``run_ids`` filters by run; it is read live, so a caller may add ids to a set it passed
        while iterating. ``topic`` defaults to the results topic (pass a request's ``reply_to``).
        Undecodable records are logged and skipped.
        """
        consumer = await self._tail(topic or self.topics.results)
        try:
            async for record in consumer:
                if (
                    run_ids is not None
                    and record.key is not None
                    and record.key.decode("utf-8", "replace") not in run_ids
                ):
                    continue  # another run: not even decoded
                event = decoded(record, decode_result)
                if event is not None and (run_ids is None or event.run_id in run_ids):
                    yield event
        finally:
            await consumer.stop()

    # -- approval systems -------------------------------------------------------------------

    async def interrupts(
        self, *, group_id: str | None = None, from_beginning: bool = False
    ) -> AsyncGenerator[InterruptRaised, None]:
        """InterruptRaised events from the approvals topic.

        Without ``group_id``: every partition, from the end (or the beginning), nothing
        committed. With ``group_id``: the group shares the partitions, and an event's offset is
        committed when the caller asks for the next one, so an event whose handling crashed is
        delivered again (at least once); ``from_beginning`` then only applies to a group with no
        committed offsets yet. Undecodable records are logged and skipped, never raised.
        """
        topic = self.topics.approvals
        if group_id is None:
            consumer = self._consumer()
        else:
            consumer = self._consumer(
                group_id=group_id, auto_offset_reset="earliest" if from_beginning else "latest"
            )
        try:  # stop() is idempotent, and needed too when start() fails half-way
            if group_id is None:
                start: Start = "beginning" if from_beginning else "end"
                await open_assigned(self._require_producer(), consumer, [topic], start)
            else:
                consumer.subscribe([topic])
                await consumer.start()
            async for record in consumer:
                event = decoded(record, decode_approval)
                if event is not None:
                    yield event
                # Reached when the caller asks for the next event: this one is handled (or was
                # skipped as undecodable, which must not be re-read after a restart either).
                if group_id is not None:
                    await _commit(consumer, TopicPartition(record.topic, record.partition), record.offset + 1)
        finally:
            await consumer.stop()

    async def respond(
        self,
        raised: InterruptRaised,
        answers: Mapping[str, Any],
        *,
        answered_by: str,
        resume_id: str | None = None,
        metadata: Any = None,
    ) -> ResumeRequested:
        """Answer interrupts of ``raised`` with outputs (ref -> output); returns the event sent.

        Each output is checked against its interrupt's published ``output_schema`` first
        (AnswerError naming the field). Answering a subset of the refs is fine.
        """
        return await self.resume(
            raised, respond=answers, answered_by=answered_by, resume_id=resume_id, metadata=metadata
        )

    async def restart(
        self,
        raised: InterruptRaised,
        restarts: Mapping[str, Any],
        *,
        replace_input: Mapping[str, Any] | None = None,
        answered_by: str,
        resume_id: str | None = None,
    ) -> ResumeRequested:
        """Re-run interrupted tool calls (ref -> ``resumed`` metadata), optionally with new input
        (ref -> input, checked against ``input_schema``); returns the event sent."""
        return await self.resume(
            raised,
            restart=restarts,
            replace_input=replace_input,
            answered_by=answered_by,
            resume_id=resume_id,
        )

    async def resume(
        self,
        raised: InterruptRaised,
        *,
        respond: Mapping[str, Any] | None = None,
        restart: Mapping[str, Any] | None = None,
        replace_input: Mapping[str, Any] | None = None,
        answered_by: str,
        resume_id: str | None = None,
        metadata: Any = None,
    ) -> ResumeRequested:
        """Respond to some interrupts and restart others in one resume; returns the event sent.

        Everything is checked against ``raised`` before anything is published (see
        ``build_resume``). ``resume_id`` defaults to a fresh uuid4: pass your own to make a
        retried call idempotent, since the service applies a resume id at most once.
        """
        event = build_resume(
            raised,
            respond=respond,
            restart=restart,
            replace_input=replace_input,
            answered_by=answered_by,
            resume_id=resume_id,
            metadata=metadata,
        )
        await self._send(self.topics.resumes, event)
        return event

    # -- replay tools -----------------------------------------------------------------------

    async def replay(self, events: Iterable[GenerateRequest | ResumeRequested]) -> int:
        """Publish recorded events again, unchanged, each to its topic; returns how many.

        Safe to repeat: the service drops requests by idempotency key and resumes by resume id.
        Every event is checked before the first is sent, so a bad one leaves nothing half done.
        """
        routed: list[tuple[str, GenerateRequest | ResumeRequested]] = []
        for event in events:
            if isinstance(event, GenerateRequest):
                check_request(event)
                routed.append((self.topics.requests, event))
            elif isinstance(event, ResumeRequested):
                if not event.run_id or not event.resume_id:
                    raise ClientUsageError("a replayed ResumeRequested needs a run_id and a resume_id")
                routed.append((self.topics.resumes, event))
            else:
                raise ClientUsageError(f"cannot replay {type(event).__name__}: only requests and resumes")
        producer = self._require_producer()
        # send() only enqueues; awaiting the deliveries together batches them. The idempotent
        # producer keeps each partition's order even when a batch is retried.
        deliveries = [await producer.send(t, encode(e), key=e.run_id.encode()) for t, e in routed]
        await asyncio.gather(*deliveries)
        return len(routed)

    async def history(
        self,
        run_id: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - see submit_and_wait
    ) -> list[ApprovalEvent | ResultEvent]:
        """Every InterruptRaised and result of ``run_id``, oldest first, for audits.

        Reads the approvals and results topics from their beginning up to their end offsets at
        call time (committed records only), every partition, since a producer outside this SDK
        may partition by another hash. ResultTimeout if that takes longer than ``timeout``.
        """
        key = run_id.encode()

        def mine(record: Any) -> bool:
            return record.key is None or record.key == key

        sources = [(self.topics.approvals, decode_approval), (self.topics.results, decode_result)]
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                consumer = self._consumer()
                ends = await open_assigned(
                    self._require_producer(), consumer, [t for t, _ in sources], "beginning"
                )
                try:
                    kept = await read_until(consumer, ends, mine)
                finally:
                    await consumer.stop()
        except TimeoutError:
            if deadline.expired():
                raise ResultTimeout(run_id, timeout, "history not read to its end") from None
            raise
        decoders = dict(sources)
        events: list[ApprovalEvent | ResultEvent] = []
        # Partitions in `ends` order: approvals first, so they win timestamp ties.
        for record in merge_by_time([kept[tp] for tp in ends]):
            event: ApprovalEvent | ResultEvent | None = decoded(record, decoders[record.topic])
            if event is not None and event.run_id == run_id:
                events.append(event)
        return events


async def _commit(consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int) -> None:
    try:
        await consumer.commit({tp: offset})
    except (CommitFailedError, IllegalStateError) as exc:
        # The group rebalanced and this partition moved: its new owner reads from the last
        # committed offset, so the event is delivered again there (at least once), not lost.
        _log.warning("could not commit %s@%d after a rebalance: %s", tp, offset, exc)
