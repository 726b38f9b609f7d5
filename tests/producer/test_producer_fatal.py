"""A fatal producer error after an outage is retriable: the SDK replaces the producer (issue 21).

After a broker outage, an idempotent producer may be answered ``OutOfOrderSequenceNumber``; it
sends nothing more, and the SDK replaces it. aiokafka marks the error not retriable, and the SDK
passed that on, although the same publish succeeds on the replacement. A caller that trusted
``.retriable`` dropped its record: the long-outage bench's approver did, and 131 of 200 runs were
left without an answer. A stand-in for aiokafka's producer fails its first delivery that way.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber, UnknownProducerId
from intermission_producer import BrokerError, KafkaProducer
from intermission_producer import _producer as producer_module
from standin_producer import StandInProducer


class _FirstDeliveryFatal(StandInProducer):
    """The first instance's deliveries fail with the error the test sets; later ones deliver."""

    error: ClassVar[type[Exception]]
    instances: ClassVar[list[_FirstDeliveryFatal]]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.delivered: list[str] = []
        self.instances.append(self)

    async def send(self, topic: str, **record: Any) -> asyncio.Future[Any]:
        delivery: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self is self.instances[0]:
            delivery.set_exception(self.error())
        else:
            self.delivered.append(record["key"].decode())
            delivery.set_result(None)
        return delivery


@pytest.mark.parametrize("error", [OutOfOrderSequenceNumber, UnknownProducerId])
async def test_a_fatal_delivery_error_is_retriable_and_the_retry_goes_through_a_new_producer(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    _FirstDeliveryFatal.error = error
    _FirstDeliveryFatal.instances = []
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", _FirstDeliveryFatal)
    async with KafkaProducer("stand-in:9092") as producer:
        with pytest.raises(BrokerError) as failed:
            await producer.publish("t", "k", b"v")
        assert failed.value.retriable, "the same publish succeeds on the replacement"
        assert error.__name__ in str(failed.value)
        await producer.publish("t", "k", b"v")  # as a caller retrying a retriable error does
        assert producer.replacements == 1
    assert [p.delivered for p in _FirstDeliveryFatal.instances] == [[], ["k"]]
