"""IntermissionClient against a real Kafka broker; a test plays the worker where one is needed."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]
from intermission_producer import (
    BrokerError,
    GenerateRequest,
    IntermissionClient,
    InterruptRaised,
    PendingInterrupt,
    RecordRefusedError,
    ResultTimeout,
    ResumeRejected,
    RunCompleted,
    RunFailed,
    Topics,
)
from intermission_schemas import SnapshotRef, decode_request, decode_resume, encode
from realservices.kafka import fast_consumer_kwargs

pytestmark = pytest.mark.kafka

_READ_TIMEOUT_S = 30.0
_PARTITIONS = 3  # more than one, so every reader must cover all partitions

T = TypeVar("T")


@pytest.fixture
async def topics(kafka_bootstrap: str, kafka_topic_prefix: str) -> Topics:
    """This test's own topics, created up front with several partitions."""
    names = Topics.with_prefix(kafka_topic_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=_PARTITIONS, replication_factor=1)
                for name in (names.requests, names.approvals, names.resumes, names.results)
            ]
        )
    finally:
        await admin.close()
    return names


@pytest.fixture
async def client(kafka_bootstrap: str, topics: Topics) -> AsyncIterator[IntermissionClient]:
    async with IntermissionClient(
        kafka_bootstrap, topics=topics, consumer_options=fast_consumer_kwargs()
    ) as opened:
        yield opened


@pytest.fixture
async def worker(kafka_bootstrap: str, kafka_topic_prefix: str) -> AsyncIterator[AIOKafkaProducer]:
    """A transactional producer, as a worker publishes its events."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"{kafka_topic_prefix}worker"
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def request(run_id: str | None = None) -> GenerateRequest:
    run_id = run_id or f"run-{uuid.uuid4().hex[:8]}"
    return GenerateRequest(run_id=run_id, idempotency_key=f"idem-{run_id}", prompt="greet", input={"n": 1})


def interrupt_raised(run_id: str, version: int = 1) -> InterruptRaised:
    return InterruptRaised(
        run_id=run_id,
        snapshot=SnapshotRef(key=f"runs/{run_id}/snapshots/{version:08d}", version=version, sha256="0" * 64),
        interrupts=[
            PendingInterrupt(
                ref="approve",
                tool="approve",
                output_schema={"type": "object", "properties": {"ok": {"type": "boolean"}}},
            )
        ],
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


async def publish(producer: AIOKafkaProducer, topic: str, *events: Any, raw: bytes | None = None) -> None:
    """Publish events (and optionally one undecodable record) in one committed transaction."""
    async with producer.transaction():
        if raw is not None:
            await producer.send_and_wait(topic, raw, key=events[0].run_id.encode())
        for event in events:
            await producer.send_and_wait(topic, encode(event), key=event.run_id.encode())


async def first_on(bootstrap: str, topic: str, decode: Callable[[bytes], T], match: Callable[[T], bool]) -> T:
    """The first record on ``topic`` (read from the beginning) that decodes and matches."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, **fast_consumer_kwargs())
    await consumer.start()
    try:
        async with asyncio.timeout(_READ_TIMEOUT_S):
            async for record in consumer:
                event = decode(record.value)
                if match(event):
                    return event
    finally:
        await consumer.stop()
    raise AssertionError("unreachable")


async def test_submit_lands_on_the_requests_topic(
    client: IntermissionClient, kafka_bootstrap: str, topics: Topics
) -> None:
    sent = request()

    await client.submit(sent)

    received = await first_on(kafka_bootstrap, topics.requests, decode_request, lambda r: True)
    assert received == sent


async def test_respond_lands_on_the_resumes_topic(
    client: IntermissionClient, kafka_bootstrap: str, topics: Topics
) -> None:
    raised = interrupt_raised("run-respond", version=4)

    sent = await client.respond(raised, {"approve": {"ok": True}}, answered_by="alice", resume_id="res-1")

    received = await first_on(kafka_bootstrap, topics.resumes, decode_resume, lambda r: True)
    assert received == sent
    assert (received.run_id, received.resume_id, received.snapshot_version) == ("run-respond", "res-1", 4)
    assert received.answered_by == "alice"
    assert [(a.ref, a.output) for a in received.respond] == [("approve", {"ok": True})]


async def test_submit_and_wait_returns_the_runs_result(
    client: IntermissionClient, kafka_bootstrap: str, topics: Topics, worker: AIOKafkaProducer
) -> None:
    sent = request()

    async def play_worker() -> None:
        # Answers only once the request is on the topic, as fast as it can: a client that
        # subscribed to results after submitting would miss this.
        await first_on(kafka_bootstrap, topics.requests, decode_request, lambda r: r.run_id == sent.run_id)
        await publish(
            worker,
            topics.results,
            RunCompleted(run_id="someone-else", text="not yours", finish_reason="stop"),
            ResumeRejected(run_id=sent.run_id, resume_id="x", reason="stale", detail="ignored here"),
            RunCompleted(run_id=sent.run_id, text="hello", finish_reason="stop"),
        )

    worker_task = asyncio.create_task(play_worker())
    try:
        result = await client.submit_and_wait(sent, timeout=_READ_TIMEOUT_S)
    finally:
        await worker_task

    assert result == RunCompleted(run_id=sent.run_id, text="hello", finish_reason="stop")


async def test_submit_and_wait_times_out_without_a_worker(client: IntermissionClient) -> None:
    sent = request()

    with pytest.raises(ResultTimeout) as info:
        await client.submit_and_wait(sent, timeout=1.0)

    assert info.value.run_id == sent.run_id
    assert isinstance(info.value, TimeoutError)


async def test_history_returns_a_runs_events_in_order(
    client: IntermissionClient, topics: Topics, worker: AIOKafkaProducer
) -> None:
    run = "run-audited"
    first, second = interrupt_raised(run, 1), interrupt_raised(run, 2)
    rejected = ResumeRejected(
        run_id=run, resume_id="r1", reason="duplicate", detail="twice", refs=["approve"]
    )
    done = RunCompleted(run_id=run, text="done", finish_reason="stop")
    # Interleaved across the two topics, with other runs, junk and an aborted result in between.
    await publish(worker, topics.approvals, interrupt_raised("other-run"))
    await publish(worker, topics.approvals, first, raw=b"{not json")
    await asyncio.sleep(0.01)  # distinct timestamps: the merge across topics goes by time
    await publish(worker, topics.results, rejected)
    await asyncio.sleep(0.01)
    await publish(worker, topics.approvals, second)
    await asyncio.sleep(0.01)
    await worker.begin_transaction()
    await worker.send_and_wait(
        topics.results, encode(RunFailed(run_id=run, code="x", message="aborted")), key=run.encode()
    )
    await worker.abort_transaction()
    await publish(
        worker, topics.results, done, RunCompleted(run_id="other-run", text="", finish_reason="stop")
    )

    events = await client.history(run, timeout=_READ_TIMEOUT_S)

    assert events == [first, rejected, second, done]


async def test_history_of_an_unknown_run_is_empty(client: IntermissionClient) -> None:
    assert await client.history("never-ran", timeout=_READ_TIMEOUT_S) == []


async def test_interrupts_skip_undecodable_records(
    client: IntermissionClient, topics: Topics, worker: AIOKafkaProducer, caplog: pytest.LogCaptureFixture
) -> None:
    raised = interrupt_raised("run-interrupted")
    await publish(worker, topics.approvals, raised, raw=b"\xff garbage")

    async with asyncio.timeout(_READ_TIMEOUT_S):
        async with contextlib.aclosing(client.interrupts(from_beginning=True)) as stream:
            received = await anext(stream)

    assert received == raised
    assert "skipping" in caplog.text


async def test_interrupts_in_a_group_commit_what_was_handled(
    client: IntermissionClient, topics: Topics, worker: AIOKafkaProducer, kafka_topic_prefix: str
) -> None:
    # One run, so both land on one partition, in order.
    first, second = interrupt_raised("run-grouped", 1), interrupt_raised("run-grouped", 2)
    await publish(worker, topics.approvals, first, second)
    group = f"{kafka_topic_prefix}approvers"

    async with asyncio.timeout(_READ_TIMEOUT_S):
        async with contextlib.aclosing(client.interrupts(group_id=group, from_beginning=True)) as stream:
            assert await anext(stream) == first
            assert await anext(stream) == second  # asking for it commits `first`
        # `second` was never acknowledged by asking for a third: the group gets it again.
        async with contextlib.aclosing(client.interrupts(group_id=group)) as stream:
            assert await anext(stream) == second


async def test_replay_republishes_requests_and_resumes(
    client: IntermissionClient, kafka_bootstrap: str, topics: Topics
) -> None:
    recorded_request = request()
    raised = interrupt_raised(recorded_request.run_id)
    recorded_resume = await client.respond(raised, {"approve": {"ok": False}}, answered_by="bob")

    count = await client.replay([recorded_request, recorded_resume])

    assert count == 2
    assert (
        await first_on(
            kafka_bootstrap, topics.requests, decode_request, lambda r: r.run_id == recorded_request.run_id
        )
        == recorded_request
    )
    resumes: list[Any] = []

    def collect(resume: Any) -> bool:
        resumes.append(resume)
        return len(resumes) == 2  # the original and the replay

    await first_on(kafka_bootstrap, topics.resumes, decode_resume, collect)
    assert resumes == [recorded_resume, recorded_resume]


async def test_results_streams_only_the_runs_asked_for(
    client: IntermissionClient, topics: Topics, worker: AIOKafkaProducer
) -> None:
    wanted = RunFailed(run_id="run-watched", code="max_turns", message="too long")
    stream = client.results({"run-watched"})

    async def keep_publishing() -> None:
        # The stream takes its position when iteration starts, which the test cannot observe:
        # publish until it sees one, with another run's result always just before.
        while True:
            other = RunCompleted(run_id="run-ignored", text="", finish_reason="stop")
            await publish(worker, topics.results, other, wanted)
            await asyncio.sleep(0.1)

    publisher = asyncio.create_task(keep_publishing())
    try:
        async with asyncio.timeout(_READ_TIMEOUT_S), contextlib.aclosing(stream):
            received = [await anext(stream), await anext(stream)]
    finally:
        publisher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await publisher

    assert received == [wanted, wanted]


async def test_a_refused_record_is_a_broker_error_not_an_aiokafka_one(client: IntermissionClient) -> None:
    too_large = GenerateRequest(
        run_id="run-large", idempotency_key="idem-large", prompt="greet", input={"blob": "x" * 2_000_000}
    )

    with pytest.raises(BrokerError) as info:
        await client.submit(too_large)

    assert not info.value.retriable
    assert "MessageSizeTooLarge" in str(info.value)
    assert isinstance(info.value, RecordRefusedError)
    assert info.value.reason == "too_large"
