"""One subscription's lane, on a source of records in memory and a real HTTP receiver: an
offset is committed only once its event and every one before it is delivered or
dead-lettered, and the lane pauses its partitions while too many events are open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx
import msgspec
from events_kit import raised, subscription
from intermission.service.ports import Headers, Record
from intermission.webhooks import Lane, RetryPolicy, Sender, WebhookDeadLetter, WebhookMetrics
from intermission_schemas import encode
from receiver_kit import serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

APPROVALS = "t.approvals"


class Source:
    def __init__(self, records: list[Record]) -> None:
        self._records = records
        self.commits: list[int] = []
        self.paused: list[bool] = []
        self.end = asyncio.Event()

    async def records(self) -> AsyncIterator[Record]:
        for record in self._records:
            yield record
        await self.end.wait()

    async def commit(self, record: Record) -> None:
        self.commits.append(record.offset)

    def pause(self) -> None:
        self.paused.append(True)

    def resume(self) -> None:
        self.paused.append(False)


class Letters:
    def __init__(self) -> None:
        self.sent: list[WebhookDeadLetter] = []

    async def publish(self, topic: str, key: str, value: bytes, headers: Headers = ()) -> None:
        self.sent.append(msgspec.json.decode(value, type=WebhookDeadLetter))


def _record(offset: int, value: bytes) -> Record:
    return Record(topic=APPROVALS, partition=0, offset=offset, key=None, value=value)


class Receiver:
    """204 for every run but ``held`` (503 until released) and ``refused`` (400)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.delivered: list[str] = []
        self.app = Starlette(routes=[Route("/hook", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        run = msgspec.json.decode(await request.body())["data"]["runId"]
        if run == "held" and not self.release.is_set():
            return Response(status_code=503)
        if run == "refused":
            return Response(status_code=400, content="no such queue")
        self.delivered.append(run)
        return Response(status_code=204)


def _lane(url: str, client: httpx.AsyncClient, letters: Letters, max_pending: int = 100) -> Lane:
    return Lane(
        subscription(url, tools=("transferMoney",)),
        approvals_topic=APPROVALS,
        sender=Sender(client, timeout_seconds=5),
        policy=RetryPolicy(base_seconds=0.02, cap_seconds=0.05, max_age_seconds=60),
        publisher=letters,
        dead_letter_topic="t.webhooks.dead-letter",
        metrics=WebhookMetrics(),
        inbox_url=None,
        max_pending=max_pending,
    )


async def _until(condition: Callable[[], object], seconds: float = 20) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_offsets_wait_for_every_earlier_event_to_be_delivered_or_dead_lettered() -> None:
    receiver, letters = Receiver(), Letters()
    source = Source(
        [
            _record(0, encode(raised("first"))),
            _record(1, encode(raised("held"))),
            _record(2, encode(raised("other-tool", tool="askQuestion"))),  # not for this lane
            _record(3, b"not an event"),
            _record(4, encode(raised("refused"))),
            _record(5, encode(raised("last"))),
        ]
    )
    async with serving(receiver.app) as served, httpx.AsyncClient() as client:
        lane = _lane(served.url, client, letters)
        running = asyncio.create_task(lane.run(source))
        await _until(lambda: "last" in receiver.delivered and letters.sent)
        await asyncio.sleep(0.2)  # time for a wrong commit to show
        assert source.commits == [0]  # "held" is still being retried: nothing after it
        receiver.release.set()
        await _until(lambda: source.commits and source.commits[-1] == 5)
        source.end.set()
        await running
    assert sorted(receiver.delivered) == ["first", "held", "last"]
    [letter] = letters.sent
    assert (letter.run_id, letter.subscription, letter.offset, letter.attempts) == (
        "refused",
        "tickets",
        4,
        1,
    )
    assert letter.last_error.startswith("HTTP 400: no such queue")
    assert source.commits == sorted(source.commits)


async def test_the_lane_pauses_while_too_many_events_are_open() -> None:
    receiver, letters = Receiver(), Letters()
    source = Source([_record(n, encode(raised("held" if n < 4 else f"run-{n}"))) for n in range(6)])
    async with serving(receiver.app) as served, httpx.AsyncClient() as client:
        running = asyncio.create_task(_lane(served.url, client, letters, max_pending=4).run(source))
        await _until(lambda: source.paused == [True])
        receiver.release.set()
        await _until(lambda: source.commits and source.commits[-1] == 5)
        source.end.set()
        await running
    assert source.paused == [True, False]
