"""The log seam's contract (`Publisher` and `Subscription`), as plain async checks.

test_log_contract.py runs every check in CONTRACT on MemoryLog and on Kafka (KafkaPublisher and
KafkaSubscription), so the worker's in-memory log is held to what Kafka does: order per key,
at-least-once redelivery of what a group did not commit, commits that cover everything before
them on a partition, and close() ending records().
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from intermission.service import Publisher, Record, Subscription

WAIT_S = 30.0  # a Kafka group join takes seconds; memory answers at once


@dataclass
class LogUnderTest:
    """A log with two fresh topics, ``a`` and ``b``, and subscriptions closed at the end."""

    publisher: Publisher
    open_subscription: Callable[[Sequence[str], str], Awaitable[Subscription]]
    a: str
    b: str
    opened: list[Subscription] = field(default_factory=list)

    async def subscribe(self, topics: Sequence[str], group: str) -> Subscription:
        subscription = await self.open_subscription(topics, group)
        self.opened.append(subscription)
        return subscription

    async def close_all(self) -> None:
        for subscription in self.opened:
            await subscription.close()


Check = Callable[[LogUnderTest], Awaitable[None]]


async def take(subscription: Subscription, count: int) -> list[Record]:
    """The next ``count`` records; fails after WAIT_S rather than hang."""
    taken: list[Record] = []
    records = subscription.records()
    try:
        async with asyncio.timeout(WAIT_S):
            async for record in records:
                taken.append(record)
                if len(taken) == count:
                    break
    finally:
        aclose = getattr(records, "aclose", None)  # an async generator: stop it now, not at GC
        if aclose is not None:
            await aclose()
    return taken


async def publish_all(log: LogUnderTest, topic: str, items: Sequence[tuple[str, str]]) -> None:
    for key, value in items:
        await log.publisher.publish(topic, key, value.encode())


async def order_is_kept_per_key(log: LogUnderTest) -> None:
    items = [(f"run-{i % 4}", f"{i % 4}:{i // 4}") for i in range(20)]  # 4 keys, interleaved
    await publish_all(log, log.a, items)
    got = await take(await log.subscribe([log.a], "workers"), len(items))

    by_key: dict[bytes | None, list[bytes]] = {}
    partition_of: dict[bytes | None, set[int]] = {}
    for record in got:
        by_key.setdefault(record.key, []).append(record.value)
        partition_of.setdefault(record.key, set()).add(record.partition)
    for i in range(4):
        key = f"run-{i}".encode()
        assert by_key[key] == [f"{i}:{n}".encode() for n in range(5)]
        assert len(partition_of[key]) == 1  # one key, one partition: that is where order comes from
    offsets: dict[int, list[int]] = {}
    for record in got:
        assert record.topic == log.a
        offsets.setdefault(record.partition, []).append(record.offset)
    assert all(seen == sorted(seen) for seen in offsets.values())


async def uncommitted_records_go_to_the_groups_next_subscription(log: LogUnderTest) -> None:
    await publish_all(log, log.a, [("run", "one"), ("run", "two"), ("run", "three")])
    first = await log.subscribe([log.a], "workers")
    assert [r.value for r in await take(first, 3)] == [b"one", b"two", b"three"]
    await first.close()  # as a crash would: nothing was committed

    second = await log.subscribe([log.a], "workers")
    assert [r.value for r in await take(second, 3)] == [b"one", b"two", b"three"]


async def a_commit_covers_everything_before_it(log: LogUnderTest) -> None:
    await publish_all(log, log.a, [("run", f"v{i}") for i in range(4)])
    first = await log.subscribe([log.a], "workers")
    got = await take(first, 4)
    await first.commit(got[2])  # v0 and v1 were never committed one by one
    await first.close()

    second = await log.subscribe([log.a], "workers")
    [next_record] = await take(second, 1)
    assert (next_record.value, next_record.offset) == (b"v3", got[3].offset)


async def groups_keep_their_own_offsets(log: LogUnderTest) -> None:
    await publish_all(log, log.a, [("run", "one"), ("run", "two")])
    workers = await log.subscribe([log.a], "workers")
    got = await take(workers, 2)
    await workers.commit(got[1])
    await workers.close()

    auditors = await log.subscribe([log.a], "auditors")
    assert [r.value for r in await take(auditors, 2)] == [b"one", b"two"]


async def one_subscription_reads_several_topics(log: LogUnderTest) -> None:
    await log.publisher.publish(log.a, "run", b"request")
    await log.publisher.publish(log.b, "run", b"resume")
    got = await take(await log.subscribe([log.a, log.b], "workers"), 2)
    assert sorted((r.topic, r.value) for r in got) == [(log.a, b"request"), (log.b, b"resume")]


async def a_waiting_subscription_gets_records_published_later(log: LogUnderTest) -> None:
    await log.publisher.publish(log.a, "run", b"before")
    subscription = await log.subscribe([log.a], "workers")
    [before] = await take(subscription, 1)  # the subscription is live and caught up
    await subscription.commit(before)
    reader = asyncio.create_task(take(subscription, 1))
    await asyncio.sleep(0.05)  # let the reader wait
    await log.publisher.publish(log.a, "run", b"after")
    assert [r.value for r in await reader] == [b"after"]


async def close_ends_a_waiting_iteration(log: LogUnderTest) -> None:
    subscription = await log.subscribe([log.a], "workers")

    async def drain() -> list[Record]:
        return [record async for record in subscription.records()]

    reader = asyncio.create_task(drain())
    await asyncio.sleep(0.05)  # let the reader wait
    await subscription.close()
    async with asyncio.timeout(WAIT_S):
        assert await reader == []


async def values_come_back_byte_for_byte(log: LogUnderTest) -> None:
    blob = bytes(range(256)) * 40
    await log.publisher.publish(log.a, "ключ/1", blob)
    await log.publisher.publish(log.a, "ключ/1", b"")
    got = await take(await log.subscribe([log.a], "workers"), 2)
    assert [(r.key, r.value) for r in got] == [("ключ/1".encode(), blob), ("ключ/1".encode(), b"")]


CONTRACT: list[Check] = [
    order_is_kept_per_key,
    uncommitted_records_go_to_the_groups_next_subscription,
    a_commit_covers_everything_before_it,
    groups_keep_their_own_offsets,
    one_subscription_reads_several_topics,
    a_waiting_subscription_gets_records_published_later,
    close_ends_a_waiting_iteration,
    values_come_back_byte_for_byte,
]
