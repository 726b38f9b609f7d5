"""IntermissionClient on its Transport seam: construction, ownership, and broker errors as BrokerError."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import intermission_producer
import pytest
from intermission_producer import (
    BrokerError,
    ClientUsageError,
    GenerateRequest,
    IntermissionClient,
    KafkaSecurity,
    KafkaTransport,
    TransportRecord,
)
from intermission_schemas import decode_request


def _closed_port() -> str:
    """An address where nothing listens: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{probe.getsockname()[1]}"


class RecordingTransport:
    """The smallest transport: remembers what was published, reads nothing."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, bytes]] = []

    async def publish(self, topic: str, key: str, value: bytes, headers: Any = ()) -> None:
        self.published.append((topic, key, value))

    @contextlib.asynccontextmanager
    async def read(
        self, topics: Sequence[str], *, start: Any, until_end: bool = False
    ) -> AsyncIterator[AsyncIterator[TransportRecord]]:
        yield _nothing()

    @contextlib.asynccontextmanager
    async def read_group(
        self, topics: Sequence[str], group_id: str, *, from_beginning: bool = False
    ) -> AsyncIterator[AsyncIterator[TransportRecord]]:
        yield _nothing()


async def _nothing() -> AsyncIterator[TransportRecord]:
    for record in ():
        yield record


def test_exactly_one_of_bootstrap_servers_and_transport() -> None:
    with pytest.raises(ClientUsageError):
        IntermissionClient()
    with pytest.raises(ClientUsageError):
        IntermissionClient("localhost:9092", transport=RecordingTransport())


@pytest.mark.parametrize(
    "kafka_option",
    [{"security": KafkaSecurity()}, {"client_id": "x"}, {"consumer_options": {"fetch_max_wait_ms": 1}}],
)
def test_kafka_options_do_not_go_with_a_transport(kafka_option: dict[str, Any]) -> None:
    with pytest.raises(ClientUsageError, match="KafkaTransport"):
        IntermissionClient(transport=RecordingTransport(), **kafka_option)


async def test_a_client_publishes_through_its_transport_keyed_by_run() -> None:
    transport = RecordingTransport()
    request = GenerateRequest(run_id="r1", idempotency_key="k1", prompt="greet")

    async with IntermissionClient(transport=transport) as client:
        await client.submit(request)

    [(topic, key, value)] = transport.published
    assert (topic, key, decode_request(value)) == ("intermission.requests", "r1", request)


async def test_a_client_is_usable_only_inside_async_with() -> None:
    client = IntermissionClient(transport=RecordingTransport())
    request = GenerateRequest(run_id="r1", idempotency_key="k1", prompt="greet")
    with pytest.raises(ClientUsageError):
        await client.submit(request)
    async with client:
        with pytest.raises(ClientUsageError):
            await client.__aenter__()
    with pytest.raises(ClientUsageError):
        await client.submit(request)


async def test_replay_keeps_each_runs_order() -> None:
    transport = RecordingTransport()
    requests = [GenerateRequest(run_id=f"r{i % 2}", idempotency_key=f"k{i}", prompt="p") for i in range(6)]

    async with IntermissionClient(transport=transport) as client:
        assert await client.replay(requests) == 6

    for run in ("r0", "r1"):
        sent = [decode_request(v).idempotency_key for _, key, v in transport.published if key == run]
        assert sent == [r.idempotency_key for r in requests if r.run_id == run]


async def test_an_unreachable_broker_is_a_retriable_broker_error() -> None:
    client = IntermissionClient(_closed_port())
    with pytest.raises(BrokerError) as info:
        await client.__aenter__()
    assert info.value.retriable
    assert "KafkaConnectionError" in str(info.value)


async def test_a_kafka_transport_must_be_started_before_use() -> None:
    transport = KafkaTransport(_closed_port())
    with pytest.raises(ClientUsageError):
        await transport.publish("t", "k", b"v")
    await transport.stop()  # stopping what never started is fine


def test_only_the_kafka_transport_imports_aiokafka() -> None:
    """Everything else in the SDK goes through the Transport seam, and aiokafka's errors are
    translated in the modules that can raise them: the transport's consumers and the one
    producer wrapper that everything publishing to Kafka uses."""
    package = Path(intermission_producer.__file__).parent
    importers = sorted(
        path.name
        for path in package.glob("*.py")
        if re.search(r"^\s*(from|import) aiokafka\b", path.read_text(), re.MULTILINE)
    )
    assert importers == ["_kafka.py", "_producer.py"]
