"""One bench worker in its own process, for ``bench/service_cycle.py --worker-processes``.

Started as ``python bench/_service_worker.py '<json config>'``. It builds its worker with
service_cycle's own ``start_worker`` (the same KafkaPublisher, KafkaSubscription, store adapter,
Runs, Worker and app as the in-process mode), after setting the same module options the parent
was given (--s3-client, --snapshot-compression, --linger-ms).

Talks to the parent over its pipes, one line each:
  stdout  ``assigned <json [[topic, partition], ...]>`` whenever its assignment changes, until
          the parent writes ``settled``; ``stopped`` once it has left the group and closed.
  stdin   ``settled``: the group has settled, stop reporting (no polling while timed);
          end of file (the parent closed the pipe, or died): stop cleanly and exit.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import service_cycle
from intermission.service import Topics
from intermission_producer import _producer as kafka_module


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _report_assignment(running: service_cycle.RunningWorker) -> None:
    last: frozenset[tuple[str, int]] | None = None
    while True:
        now = running.subscription.assignment()
        if now != last:
            _say("assigned " + json.dumps(sorted(now)))
            last = now
        await asyncio.sleep(0.05)


async def _serve(config: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    services = service_cycle.Services(config["bootstrap"], "parent", config["s3"], "parent")
    running = await service_cycle.start_worker(
        config["index"],
        services,
        config["bucket"],
        Topics(**config["topics"]),
        config["group"],
        config["consumer_options"],
        None,
    )
    reporter = asyncio.create_task(_report_assignment(running))
    try:
        while line := await stdin.readline():
            if line.strip() == b"settled":
                reporter.cancel()
    finally:
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
        await running.stop()
    _say("stopped")


def main() -> None:
    config = json.loads(sys.argv[1])
    service_cycle.S3_CLIENT = config["s3_client"]
    service_cycle.SNAPSHOT_COMPRESSION = config["snapshot_compression"]
    if config["linger_ms"] is not None:
        kafka_module.LINGER_MS = config["linger_ms"]
    asyncio.run(_serve(config))


if __name__ == "__main__":
    main()
