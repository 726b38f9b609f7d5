"""The producer's `Transport` contract, run on MemoryLog and on KafkaTransport (real Kafka).

IntermissionClient relies on these rules and nothing else, so a client on MemoryLog in a test
behaves as it does on Kafka: groupless reads positioned on entry ("read, then submit" misses
nothing), bounded reads that stop at the end offsets of that moment, order per key, group reads
that commit a record once the next is asked for, and records that come back byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from intermission.service.adapters.kafka import ensure_topics
from intermission.service.adapters.local import MemoryLog
from intermission_producer import KafkaTransport, Transport, TransportRecord
from realservices.kafka import fast_consumer_kwargs

_WAIT_S = 30.0
_PARTITIONS = 3


@dataclass
class TransportUnderTest:
    transport: Transport
    a: str  # two fresh topics
    b: str
    group_prefix: str = ""

    def group(self, name: str) -> str:
        return f"{self.group_prefix}{name}"


Check = Callable[[TransportUnderTest], Awaitable[None]]


async def take(records: AsyncIterator[TransportRecord], count: int) -> list[TransportRecord]:
    taken: list[TransportRecord] = []
    async with asyncio.timeout(_WAIT_S):
        while len(taken) < count:
            taken.append(await anext(records))
    return taken


async def drain(records: AsyncIterator[TransportRecord]) -> list[TransportRecord]:
    async with asyncio.timeout(_WAIT_S):
        return [record async for record in records]


def values(records: list[TransportRecord]) -> list[bytes | None]:
    return [record.value for record in records]


# -- the checks ---------------------------------------------------------------------------------


async def a_read_from_the_end_sees_what_is_published_after_entering(t: TransportUnderTest) -> None:
    await t.transport.publish(t.a, "run", b"old")
    async with t.transport.read([t.a], start="end") as records:
        # Published right after entering, before the first fetch: still seen.
        await t.transport.publish(t.a, "run", b"new")
        assert values(await take(records, 1)) == [b"new"]


async def a_read_from_the_beginning_sees_everything(t: TransportUnderTest) -> None:
    await t.transport.publish(t.a, "run", b"one")
    async with t.transport.read([t.a], start="beginning") as records:
        await t.transport.publish(t.a, "run", b"two")
        assert values(await take(records, 2)) == [b"one", b"two"]


async def until_end_stops_at_the_end_offsets_of_entering(t: TransportUnderTest) -> None:
    for i in range(3):
        await t.transport.publish(t.a, f"run-{i}", f"v{i}".encode())
    async with t.transport.read([t.a, t.b], start="beginning", until_end=True) as records:
        await t.transport.publish(t.a, "run-0", b"too late")
        got = await drain(records)
    assert sorted(r.value or b"" for r in got) == [b"v0", b"v1", b"v2"]


async def until_end_of_empty_topics_ends_at_once(t: TransportUnderTest) -> None:
    async with t.transport.read([t.a, t.b], start="beginning", until_end=True) as records:
        assert await drain(records) == []
    async with t.transport.read([t.a], start="end", until_end=True) as records:
        assert await drain(records) == []


async def records_keep_their_order_per_key(t: TransportUnderTest) -> None:
    sent = [(f"run-{i % 3}", f"{i % 3}:{i // 3}".encode()) for i in range(12)]
    for key, value in sent:
        await t.transport.publish(t.a, key, value)
    async with t.transport.read([t.a], start="beginning", until_end=True) as records:
        got = await drain(records)
    for i in range(3):
        mine = [r for r in got if r.key == f"run-{i}".encode()]
        assert values(mine) == [f"{i}:{n}".encode() for n in range(4)]
        assert len({r.partition for r in mine}) == 1
        assert [r.offset for r in mine] == sorted(r.offset for r in mine)
        assert all(r.topic == t.a for r in mine)


async def timestamps_order_records_across_topics(t: TransportUnderTest) -> None:
    await t.transport.publish(t.a, "run", b"first")
    await asyncio.sleep(0.01)  # Kafka's timestamps are milliseconds
    await t.transport.publish(t.b, "run", b"second")
    await asyncio.sleep(0.01)
    await t.transport.publish(t.a, "run", b"third")
    async with t.transport.read([t.a, t.b], start="beginning", until_end=True) as records:
        got = await drain(records)
    assert values(sorted(got, key=lambda r: r.timestamp)) == [b"first", b"second", b"third"]


async def keys_and_values_come_back_byte_for_byte(t: TransportUnderTest) -> None:
    blob = bytes(range(256)) * 40
    await t.transport.publish(t.a, "ключ/1", blob)
    await t.transport.publish(t.a, "ключ/1", b"")
    async with t.transport.read([t.a], start="beginning", until_end=True) as records:
        got = await drain(records)
    assert [(r.key, r.value) for r in got] == [("ключ/1".encode(), blob), ("ключ/1".encode(), b"")]


async def a_group_commits_a_record_when_the_next_is_asked_for(t: TransportUnderTest) -> None:
    for value in (b"one", b"two", b"three"):
        await t.transport.publish(t.a, "run", value)
    group = t.group("approvers")
    async with t.transport.read_group([t.a], group, from_beginning=True) as records:
        assert values(await take(records, 2)) == [b"one", b"two"]  # asking for "two" committed "one"
    # "two" was handed out but never followed by another request: the group gets it again.
    async with t.transport.read_group([t.a], group) as records:
        assert values(await take(records, 2)) == [b"two", b"three"]
    async with t.transport.read_group([t.a], group) as records:
        assert values(await take(records, 1)) == [b"three"]


async def groups_do_not_share_offsets(t: TransportUnderTest) -> None:
    await t.transport.publish(t.a, "run", b"one")
    await t.transport.publish(t.a, "run", b"two")
    async with t.transport.read_group([t.a], t.group("first"), from_beginning=True) as records:
        assert values(await take(records, 2)) == [b"one", b"two"]
    async with t.transport.read_group([t.a], t.group("second"), from_beginning=True) as records:
        assert values(await take(records, 1)) == [b"one"]


async def a_new_group_not_from_the_beginning_skips_what_was_there(t: TransportUnderTest) -> None:
    await t.transport.publish(t.a, "run", b"old")
    async with t.transport.read_group([t.a], t.group("latecomers")) as records:
        # Kafka resolves "latest" once the group has joined, which a caller cannot observe:
        # keep publishing until something arrives; it must not be the old record.
        async def keep_publishing() -> None:
            while True:
                await t.transport.publish(t.a, "run", b"new")
                await asyncio.sleep(0.1)

        publisher = asyncio.create_task(keep_publishing())
        try:
            assert values(await take(records, 1)) == [b"new"]
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher


CONTRACT: list[Check] = [
    a_read_from_the_end_sees_what_is_published_after_entering,
    a_read_from_the_beginning_sees_everything,
    until_end_stops_at_the_end_offsets_of_entering,
    until_end_of_empty_topics_ends_at_once,
    records_keep_their_order_per_key,
    timestamps_order_records_across_topics,
    keys_and_values_come_back_byte_for_byte,
    a_group_commits_a_record_when_the_next_is_asked_for,
    groups_do_not_share_offsets,
    a_new_group_not_from_the_beginning_skips_what_was_there,
]


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.kafka)])
async def under_test(request: pytest.FixtureRequest) -> AsyncIterator[TransportUnderTest]:
    if request.param == "memory":
        yield TransportUnderTest(MemoryLog(), "a", "b")
        return
    # Requested here, not in the signature, so the memory runs never start Kafka.
    bootstrap: str = request.getfixturevalue("kafka_bootstrap")
    prefix: str = request.getfixturevalue("kafka_topic_prefix")
    a, b = f"{prefix}a", f"{prefix}b"
    await ensure_topics(bootstrap, [a, b], _PARTITIONS, 1)
    options: dict[str, Any] = fast_consumer_kwargs()
    async with KafkaTransport(bootstrap, consumer_options=options) as transport:
        yield TransportUnderTest(transport, a, b, group_prefix=prefix)


@pytest.mark.parametrize("check", CONTRACT, ids=lambda check: check.__name__)
async def test_transport_contract(check: Check, under_test: TransportUnderTest) -> None:
    await check(under_test)
