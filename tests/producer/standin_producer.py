"""What a stand-in for aiokafka's producer needs besides send(): metadata that knows the topic."""

from __future__ import annotations

from typing import Any

__all__ = ["KnownTopicClient", "StandInProducer"]


class _Cluster:
    def partitions_for_topic(self, topic: str) -> set[int]:
        return {0}


class KnownTopicClient:
    """aiokafka's client as `KafkaProducer.publish` sees it: every topic exists, with one partition."""

    cluster = _Cluster()


class StandInProducer:
    """aiokafka's producer as far as `KafkaProducer` uses it, but for send(), which each
    stand-in writes to make the moment it tests certain."""

    def __init__(self, **options: Any) -> None:
        self.client = KnownTopicClient()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
