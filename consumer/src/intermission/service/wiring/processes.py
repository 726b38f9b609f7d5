"""Several worker processes in one pod (``intermission worker --processes N``).

A worker process uses about one core (the event loop and the S3 client share the GIL), so a pod
with more cores runs N processes, each an ordinary worker and member of the same consumer group.
This process supervises them and is the pod's single set of endpoints on ``health_port``:
``/healthz`` (this loop answers), ``/readyz`` (every process is ready) and ``/metrics`` (every
process's samples, labelled ``process``). The processes serve theirs on loopback ports.

A process that exits is started again after a backoff (1 s doubling to 30 s), as its records
are redelivered to the group meanwhile; so is one whose own ``/healthz`` says it is stalled
(records waiting, none finishing): this process stops it, as the kubelet would a single worker.
One that exits 2 (a setting is wrong) before it was ever
ready stops the pod with exit 2, since its siblings would fail the same way. SIGTERM or SIGINT
stop every process gracefully (each drains its records in flight) and then this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Mapping, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge

from ...errors import SettingsError
from ..local_services.processes import die_with_parent, free_loopback_port
from ..observe.endpoints import Endpoints, ReadinessReport
from ..observe.metrics import CONTENT_TYPE
from ..observe.pod import merged_metrics, pod_readiness, scrape
from .settings import Settings

__all__ = ["serve_processes", "worker_command"]

log = logging.getLogger("intermission.worker")

EXIT_SETTINGS = 2
_BACKOFF_FIRST_S = 1.0
_BACKOFF_CAP_S = 30.0
_WATCH_READY_EVERY_S = 1.0


class _Slot:
    """One of the N processes: its loopback port, the process running in it, and whether it
    was ever ready."""

    def __init__(self, index: int, port: int) -> None:
        self.index = index
        self.port = port
        self.process: asyncio.subprocess.Process | None = None
        self.ever_ready = False
        self.stopped_stalled: int | None = None  # the pid asked to stop for a stall, once


async def serve_processes(
    settings: Settings,
    count: int,
    *,
    command: Sequence[str],
    environ: Mapping[str, str],
    stop: asyncio.Event,
) -> int:
    """Run ``count`` worker processes until ``stop``; returns the exit code for the pod.

    ``command`` starts one worker (its settings in ``environ``); each process is given its own
    loopback health port through ``INTERMISSION_HEALTH_HOST``/``INTERMISSION_HEALTH_PORT``."""
    registry = CollectorRegistry(auto_describe=True)
    running = Gauge(
        "intermission_worker_processes", "Worker processes running in this pod", registry=registry
    )
    restarts = Counter(
        "intermission_worker_process_restarts",
        "Worker processes started again after they exited",
        registry=registry,
    )
    slots = [_Slot(i, free_loopback_port()) for i in range(count)]

    def ports() -> list[int | None]:
        return [s.port if s.process is not None and s.process.returncode is None else None for s in slots]

    async def ready_now() -> ReadinessReport:
        return await pod_readiness(ports())

    async def metrics_now() -> bytes:
        running.set(sum(port is not None for port in ports()))
        return await merged_metrics(ports(), registry)

    endpoints: Endpoints | None = None
    if settings.health_port:
        endpoints = Endpoints(readiness=ready_now, metrics=metrics_now, metrics_content_type=CONTENT_TYPE)
        try:
            await endpoints.start(settings.health_host, settings.health_port)
        except OSError as exc:
            where = f"{settings.health_host}:{settings.health_port}"
            raise SettingsError("INTERMISSION_HEALTH_PORT", f"cannot listen on {where}: {exc}") from exc
    log.info("supervising %d worker processes (health on port %s)", count, settings.health_port or "off")
    failed = asyncio.Event()
    try:
        async with asyncio.TaskGroup() as group:
            keepers = [
                group.create_task(_keep_running(slot, command, environ, stop, failed, restarts))
                for slot in slots
            ]
            group.create_task(_note_readiness(slots, stop))
            stopped, failing = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(failed.wait())
            await asyncio.wait([stopped, failing], return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            failing.cancel()
            stop.set()
            await asyncio.gather(*keepers)
    finally:
        if endpoints is not None:
            await endpoints.close()
    return EXIT_SETTINGS if failed.is_set() else 0


async def _keep_running(
    slot: _Slot,
    command: Sequence[str],
    environ: Mapping[str, str],
    stop: asyncio.Event,
    failed: asyncio.Event,
    restarts: Counter,
) -> None:
    env = {
        **environ,
        "INTERMISSION_HEALTH_HOST": "127.0.0.1",
        "INTERMISSION_HEALTH_PORT": str(slot.port),
        "INTERMISSION_PROCESSES": "1",
    }
    backoff = _BACKOFF_FIRST_S
    while not stop.is_set():
        # Its own session: a terminal's Ctrl-C reaches this process only, which then stops each
        # worker once (a second signal would make a worker give up its records in flight); and
        # it dies with this process, even if this one is killed.
        slot.process = await asyncio.create_subprocess_exec(
            *command, env=env, start_new_session=True, preexec_fn=die_with_parent()
        )
        log.info("worker process %d started (pid %d)", slot.index, slot.process.pid)
        code = await _wait_or_stop(slot.process, stop)
        if stop.is_set():
            return
        if code == EXIT_SETTINGS and not slot.ever_ready:
            log.error("worker process %d exited 2 (a setting is wrong): stopping the pod", slot.index)
            failed.set()
            return
        log.error("worker process %d exited with %s; starting it again in %.0f s", slot.index, code, backoff)
        restarts.inc()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(backoff):
                await stop.wait()
        backoff = min(backoff * 2, _BACKOFF_CAP_S)


async def _wait_or_stop(process: asyncio.subprocess.Process, stop: asyncio.Event) -> int:
    """The process's exit code; on ``stop``, after asking it to stop and waiting for it (it
    drains within its own grace period)."""
    exited = asyncio.ensure_future(process.wait())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait([exited, stopped], return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not exited.done():
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    return await exited


async def _note_readiness(slots: Sequence[_Slot], stop: asyncio.Event) -> None:
    """Remember which processes were ever ready: after that, an exit 2 is a crash to recover
    from (a port taken, say), not a wrong setting. A process that was ready and now says it is
    stalled is stopped, and so started again."""
    while not stop.is_set():
        for slot in slots:
            if slot.process is None or slot.process.returncode is not None:
                continue
            with contextlib.suppress(OSError, TimeoutError):
                if not slot.ever_ready:
                    status, _ = await scrape(slot.port, "/readyz")
                    slot.ever_ready = status == 200
                else:
                    await _stop_if_stalled(slot)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_WATCH_READY_EVERY_S):
                await stop.wait()


async def _stop_if_stalled(slot: _Slot) -> None:
    process = slot.process
    if process is None or slot.stopped_stalled == process.pid:
        return  # asked once: a second SIGTERM would make it give up its records in flight
    status, body = await scrape(slot.port, "/healthz")
    if status == 503 and process.returncode is None:
        stall = body.decode(errors="replace").strip()
        log.error("worker process %d is stalled (%s); stopping it", slot.index, stall)
        slot.stopped_stalled = process.pid
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)


def worker_command() -> list[str]:
    """How this interpreter starts one ``intermission worker``."""
    return [sys.executable, "-m", "intermission.cli", "worker"]
