"""IntermissionClient: one async client for upstream services, approval systems and replay tools."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterable, Mapping, Set
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

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

from ._answers import AnswerKey, build_resume
from ._errors import ClientUsageError, ResultTimeout
from ._reading import decoded, merge_by_time
from ._requests import check_request, check_resume
from ._security import KafkaSecurity
from ._tracing import sending
from ._transport import Start, Transport, TransportRecord

if TYPE_CHECKING:
    from ._kafka import KafkaTransport

__all__ = ["IntermissionClient"]

_log = logging.getLogger("intermission_producer")


class IntermissionClient:
    """Publish and read Intermission's events. Use it as ``async with IntermissionClient(...)``.

    Give it Kafka's ``bootstrap_servers`` (it then opens a `KafkaTransport` on entering and
    closes it on leaving), or any ``transport=`` (a `Transport`, e.g. an in-memory log in tests),
    which it uses as it is and never opens or closes. ``security``, ``client_id`` and
    ``consumer_options`` configure the Kafka transport, so they go with ``bootstrap_servers``
    only; see `KafkaTransport`.

    The streams (``interrupts``, ``results``) are async generators: close one you leave early
    with ``contextlib.aclosing`` so its reader stops at once rather than when collected.
    Broker failures raise `BrokerError`.
    """

    def __init__(
        self,
        bootstrap_servers: str | None = None,
        *,
        transport: Transport | None = None,
        topics: Topics = Topics(),  # noqa: B008 - frozen, so one shared default is safe
        security: KafkaSecurity | None = None,
        client_id: str | None = None,
        consumer_options: dict[str, Any] | None = None,
        signing_key: AnswerKey | None = None,
    ) -> None:
        self.signing_key = signing_key  # signs every answer this client sends (see build_resume)
        if (bootstrap_servers is None) == (transport is None):
            raise ClientUsageError("pass either bootstrap_servers or transport=, exactly one of them")
        if transport is not None and (security is not None or client_id is not None or consumer_options):
            raise ClientUsageError(
                "security, client_id and consumer_options configure Kafka: give them to the "
                "KafkaTransport you pass, or pass bootstrap_servers instead"
            )
        self.topics = topics
        self._given = transport
        self._kafka_options: dict[str, Any] = {
            "security": security,
            "consumer_options": consumer_options,
            **({"client_id": client_id} if client_id is not None else {}),
        }
        self._bootstrap_servers = bootstrap_servers
        self._owned: KafkaTransport | None = None
        self._open = False

    # -- lifecycle --------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._open:
            raise ClientUsageError("the client is already open")
        if self._given is None:
            assert self._bootstrap_servers is not None
            from ._kafka import KafkaTransport  # aiokafka loads only for a client that owns one

            owned = KafkaTransport(self._bootstrap_servers, **self._kafka_options)
            await owned.start()
            self._owned = owned
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False
        owned, self._owned = self._owned, None
        if owned is not None:
            await owned.stop()  # flushes what is still buffered

    def _transport(self) -> Transport:
        transport = self._given or self._owned
        if not self._open or transport is None:
            raise ClientUsageError("use the client inside `async with IntermissionClient(...)`")
        return transport

    async def _send(
        self,
        topic: str,
        event: GenerateRequest | ResumeRequested,
        *,
        trace_from: InterruptRaised | None = None,
    ) -> None:
        # Keyed by run id: a run's events share a partition, hence an order. The send's span
        # starts (or continues) the caller's trace; an answer's continues the run's, taken from
        # the InterruptRaised it answers, so a run is one trace however long it paused.
        parent = trace_from.trace_context if trace_from is not None else None
        with sending(topic, event.run_id, parent=parent) as headers:
            await self._transport().publish(topic, event.run_id, encode(event), headers)

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
            async with deadline, self._transport().read([topic], start="end") as records:
                await self.submit(request)
                async for record in records:
                    if record.key is not None and record.key != key:
                        continue  # someone else's run: not even decoded
                    event = decoded(record, decode_result)
                    if isinstance(event, RunCompleted | RunFailed) and event.run_id == request.run_id:
                        return event
        except TimeoutError:
            if deadline.expired():
                raise ResultTimeout(request.run_id, timeout) from None
            raise
        raise AssertionError("unreachable: a reader without until_end iterates until closed")

    async def results(
        self, run_ids: Set[str] | None = None, *, topic: str | None = None
    ) -> AsyncGenerator[ResultEvent, None]:
        """Results published from now on (the end of the topic when iteration starts).

        ``run_ids`` filters by run; it is read live, so a caller may add ids to a set it passed
        while iterating. ``topic`` defaults to the results topic (pass a request's ``reply_to``).
        Undecodable records are logged and skipped.
        """
        async with self._transport().read([topic or self.topics.results], start="end") as records:
            async for record in records:
                if (
                    run_ids is not None
                    and record.key is not None
                    and record.key.decode("utf-8", "replace") not in run_ids
                ):
                    continue  # another run: not even decoded
                event = decoded(record, decode_result)
                if event is not None and (run_ids is None or event.run_id in run_ids):
                    yield event

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
        topics = [self.topics.approvals]
        transport = self._transport()
        if group_id is None:
            start: Start = "beginning" if from_beginning else "end"
            reader = transport.read(topics, start=start)
        else:
            # The transport commits a record when the next one is asked for: the caller has
            # handled it by then (or it was skipped as undecodable, not to be re-read either).
            reader = transport.read_group(topics, group_id, from_beginning=from_beginning)
        async with reader as records:
            async for record in records:
                event = decoded(record, decode_approval)
                if event is not None:
                    yield event

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
            signing_key=self.signing_key,
        )
        await self._send(self.topics.resumes, event, trace_from=raised)
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
                check_resume(event)
                routed.append((self.topics.resumes, event))
            else:
                raise ClientUsageError(f"cannot replay {type(event).__name__}: only requests and resumes")
        by_run: dict[str, list[tuple[str, GenerateRequest | ResumeRequested]]] = {}
        for topic, event in routed:
            by_run.setdefault(event.run_id, []).append((topic, event))

        async def publish_in_order(run: list[tuple[str, GenerateRequest | ResumeRequested]]) -> None:
            for topic, event in run:
                await self._send(topic, event)

        # Runs in parallel, so their records batch together; each run's in the order recorded,
        # since a resume overtaking its request would be rejected as unknown_run.
        await asyncio.gather(*(publish_in_order(run) for run in by_run.values()))
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
        sources = [(self.topics.approvals, decode_approval), (self.topics.results, decode_result)]
        topics = [t for t, _ in sources]
        streams: dict[tuple[str, int], list[TransportRecord]] = {}
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline, self._transport().read(topics, start="beginning", until_end=True) as records:
                async for record in records:
                    if record.key is None or record.key == key:
                        streams.setdefault((record.topic, record.partition), []).append(record)
        except TimeoutError:
            if deadline.expired():
                raise ResultTimeout(run_id, timeout, "history not read to its end") from None
            raise
        decoders = dict(sources)
        events: list[ApprovalEvent | ResultEvent] = []
        # Approvals' partitions first, so they win timestamp ties.
        order = sorted(streams, key=lambda tp: (topics.index(tp[0]), tp[1]))
        for record in merge_by_time([streams[tp] for tp in order]):
            event: ApprovalEvent | ResultEvent | None = decoded(record, decoders[record.topic])
            if event is not None and event.run_id == run_id:
                events.append(event)
        return events
