"""`worker --processes N` stops a process whose own /healthz says it is stalled, and starts it
again: the pod's /healthz is this supervisor's loop, so without it the kubelet would never see a
stalled process of a multi-process pod.

The processes are stand-ins: each serves /readyz 200 and /healthz 503 (stalled) on the port it
is given, and records its pid, so the test needs neither Kafka nor S3.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from intermission.service import Settings
from intermission.service.wiring.processes import serve_processes

STALLED_WORKER = r"""
import asyncio, os, signal, sys

async def answer(reader, writer):
    request = await reader.readline()
    while (await reader.readline()).strip():
        pass
    stalled = b" /healthz " in request
    body = b'{"stalled_seconds":301.0,"waiting":1,"limit_seconds":300.0}' if stalled else b"{}"
    status = b"503 Service Unavailable" if stalled else b"200 OK"
    head = b"HTTP/1.1 " + status + b"\r\nContent-Length: " + str(len(body)).encode()
    writer.write(head + b"\r\n\r\n" + body)
    await writer.drain()
    writer.close()

async def main():
    with open(sys.argv[1], "a") as pids:
        pids.write(f"{os.getpid()}\n")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    server = await asyncio.start_server(answer, "127.0.0.1", int(os.environ["INTERMISSION_HEALTH_PORT"]))
    async with server:
        await stop.wait()

asyncio.run(main())
"""


async def test_a_stalled_process_is_stopped_and_started_again(tmp_path: Path) -> None:
    script = tmp_path / "stalled_worker.py"
    script.write_text(STALLED_WORKER)
    pids = tmp_path / "pids"
    pids.touch()
    stop = asyncio.Event()
    pod = asyncio.create_task(
        serve_processes(
            Settings(health_port=0),
            1,
            command=[sys.executable, str(script), str(pids)],
            environ={},
            stop=stop,
        )
    )
    try:
        for _ in range(300):  # 60 s: the stall is seen within a second, the restart after 1 s
            if len(pids.read_text().split()) >= 2:
                break
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        code = await asyncio.wait_for(pod, 30)
    started = pids.read_text().split()
    assert len(set(started)) >= 2, started
    assert code == 0
