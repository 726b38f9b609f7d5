"""One pod's endpoints over several worker processes: each process serves its own on a loopback
port; the pod's ``/readyz`` and ``/metrics`` ask every one of them and answer once.

A pod is ready when every process is: a process that is restarting or cannot reach S3 holds
partitions it cannot serve. Metrics are every process's samples, each with a ``process`` label
(its slot, 0 to N-1), so sums over the pod are ``sum without (process)``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator, Sequence

import msgspec
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from .endpoints import ReadinessReport

__all__ = ["ProcessReadiness", "merged_metrics", "pod_readiness", "scrape"]

_SCRAPE_TIMEOUT_S = 2.0


class ProcessReadiness(msgspec.Struct, frozen=True, kw_only=True):
    process: int
    ready: bool
    detail: msgspec.Raw | str  # the process's own /readyz body, or why it did not answer


async def scrape(port: int, path: str) -> tuple[int, bytes]:
    """GET ``path`` from a process's endpoints on 127.0.0.1; (status, body). Raises OSError or
    TimeoutError when it does not answer."""
    async with asyncio.timeout(_SCRAPE_TIMEOUT_S):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
            response = await reader.read()
        finally:
            writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise OSError(f"not an HTTP answer from 127.0.0.1:{port}")
    return int(status_line[1]), body


async def pod_readiness(ports: Sequence[int | None]) -> ReadinessReport:
    """Every process's readiness (``None``: not running now), and the pod's: all ready."""

    async def one(process: int, port: int | None) -> ProcessReadiness:
        if port is None:
            return ProcessReadiness(process=process, ready=False, detail="not running")
        try:
            status, body = await scrape(port, "/readyz")
        except (OSError, TimeoutError) as exc:
            return ProcessReadiness(process=process, ready=False, detail=f"no answer: {exc!r}")
        return ProcessReadiness(process=process, ready=status == 200, detail=msgspec.Raw(body.strip()))

    processes = await asyncio.gather(*(one(i, port) for i, port in enumerate(ports)))
    ready = bool(processes) and all(p.ready for p in processes)
    detail = msgspec.json.encode({"ready": ready, "processes": processes})
    return ReadinessReport(ready=ready, detail=msgspec.Raw(detail))


async def merged_metrics(ports: Sequence[int | None], own: CollectorRegistry) -> bytes:
    """The pod's exposition: ``own`` (the supervisor's) and every answering process's samples
    labelled with its slot. A process that does not answer is left out of this scrape, which
    Prometheus shows as a gap, rather than failing the whole pod's scrape."""

    async def one(process: int, port: int | None) -> tuple[int, str] | None:
        if port is None:
            return None
        try:
            status, body = await scrape(port, "/metrics")
        except (OSError, TimeoutError):
            return None
        return (process, body.decode()) if status == 200 else None

    answers = [a for a in await asyncio.gather(*(one(i, p) for i, p in enumerate(ports))) if a is not None]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Labelled(answers))
    return generate_latest(own) + generate_latest(registry)


class _Labelled:
    """A collector yielding parsed families, each sample with its process's slot added."""

    def __init__(self, answers: Iterable[tuple[int, str]]) -> None:
        self._answers = list(answers)

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for process, text in self._answers:
            for family in text_string_to_metric_families(text):
                merged = families.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type, family.unit)
                )
                merged.samples.extend(
                    Sample(s.name, {**s.labels, "process": str(process)}, s.value, s.timestamp, s.exemplar)
                    for s in family.samples
                )
        yield from families.values()
