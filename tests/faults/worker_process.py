"""One worker process, run exactly as production runs it (`intermission worker`), with an
optional fault: SIGKILL itself at a chosen point.

    python worker_process.py [--kill POINT:N[,N...]] [--state DIR] [--consumer-options JSON]

Settings come from the environment as for `intermission worker` (INTERMISSION_BOOTSTRAP_SERVERS,
INTERMISSION_BUCKET, INTERMISSION_S3_ENDPOINT_URL, INTERMISSION_APP=fault_app:ai, topic names,
INTERMISSION_GROUP_ID, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY...). The worker is the real CLI
command, so start-up, serving, signal handling and shutdown are production's; the only
additions are hooks around the public seams, installed on the classes before the CLI builds
anything:

    after_model           the model's reply returned (the app's model is wrapped)
    after_tool_effect     a tool applied its outside effect and has not returned yet
    after_snapshot_write  an S3 create or replace succeeded (either S3 client)
    after_publish         a publish was acknowledged (KafkaPublisher)
    before_commit         an offset is about to be committed (KafkaSubscription)

Occurrences of each point are counted across every worker sharing ``--state`` (a file per
point, under a lock), so ``--kill after_publish:3,9`` kills at the third and the ninth publish
seen by this lane's workers, whichever process sees them; a restarted worker never repeats a
kill. Each kill is recorded in ``DIR/kills.jsonl`` just before the SIGKILL.

``--consumer-options`` (JSON) tunes the worker's consumer, e.g. short session timeouts so that
another worker takes a dead one's partitions quickly.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote

POINTS = ("after_model", "after_tool_effect", "after_snapshot_write", "after_publish", "before_commit")


class KillSwitch:
    def __init__(self, state: Path, plan: dict[str, set[int]]) -> None:
        self.state = state
        self.plan = plan
        if plan:
            state.mkdir(parents=True, exist_ok=True)

    def hit(self, point: str) -> None:
        occurrences = self.plan.get(point)
        if not occurrences:
            return
        count = self._count(point)
        if count not in occurrences:
            return
        try:  # once per planned occurrence, whichever worker reaches it
            os.close(os.open(self.state / f"killed-{point}-{count}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        line = json.dumps({"point": point, "occurrence": count, "pid": os.getpid(), "t": time.time()})
        with open(self.state / "kills.jsonl", "a") as log:
            log.write(line + "\n")
        os.kill(os.getpid(), signal.SIGKILL)

    def _count(self, point: str) -> int:
        path = self.state / f"{point}.count"
        with open(self.state / f"{point}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            count = int(path.read_text() or 0) + 1 if path.exists() else 1
            path.write_text(str(count))
        return count


def parse_plan(specs: list[str]) -> dict[str, set[int]]:
    plan: dict[str, set[int]] = {}
    for spec in specs:
        point, _, occurrences = spec.partition(":")
        if point not in POINTS:
            raise SystemExit(f"unknown kill point {point!r}; one of {', '.join(POINTS)}")
        plan.setdefault(point, set()).update(int(n) for n in (occurrences or "1").split(","))
    return plan


def _journaled_call(key: str) -> str | None:
    """The idempotency key of the tool call a journal object records, or None.

    runs/{run}/journal/{step:08d}/tool-{quoted ref} -> "{run}:{step}:{ref}"."""
    parts = key.split("/")
    if len(parts) != 5 or parts[0] != "runs" or parts[2] != "journal" or not parts[4].startswith("tool-"):
        return None
    return f"{parts[1]}:{int(parts[3])}:{unquote(parts[4][len('tool-') :])}"


def _wrap_store(store_class: Any, switch: KillSwitch, append: Any) -> None:
    create, replace = store_class.create, store_class.replace

    async def create_then(self: Any, key: str, data: bytes) -> str:
        etag: str = await create(self, key, data)
        journaled = _journaled_call(key)
        if journaled is not None:
            # The tool call's output is durable from here on: by the service's promise it is
            # finished, and no attempt may run it again.
            append("journal.jsonl", {"idempotency_key": journaled})
        switch.hit("after_snapshot_write")
        return etag

    async def replace_then(self: Any, key: str, data: bytes, etag: str) -> str:
        new: str = await replace(self, key, data, etag)
        switch.hit("after_snapshot_write")
        return new

    store_class.create = create_then
    store_class.replace = replace_then


def install(switch: KillSwitch, consumer_options: dict[str, Any]) -> None:
    """Wrap the public seams' classes and the app before the CLI builds the worker."""
    import fault_app
    from intermission.service.adapters.kafka import KafkaPublisher, KafkaSubscription
    from intermission.service.adapters.obstore import ObstoreSnapshotStore
    from intermission.service.adapters.s3 import S3SnapshotStore

    publish, commit = KafkaPublisher.publish, KafkaSubscription.commit
    subscription_init = KafkaSubscription.__init__

    # Both S3 clients the worker may be configured with (INTERMISSION_S3_CLIENT).
    for store_class in (S3SnapshotStore, ObstoreSnapshotStore):
        _wrap_store(store_class, switch, fault_app.append)

    async def publish_then(
        self: KafkaPublisher, topic: str, key: str, value: bytes, headers: Any = ()
    ) -> None:
        await publish(self, topic, key, value, headers)
        switch.hit("after_publish")

    async def commit_after(self: KafkaSubscription, record: Any) -> None:
        switch.hit("before_commit")
        await commit(self, record)

    def subscription_with_options(self: KafkaSubscription, *args: Any, **kwargs: Any) -> None:
        kwargs["consumer_options"] = {**consumer_options, **(kwargs.get("consumer_options") or {})}
        subscription_init(self, *args, **kwargs)

    KafkaPublisher.publish = publish_then  # type: ignore[method-assign]
    KafkaSubscription.commit = commit_after  # type: ignore[method-assign]
    KafkaSubscription.__init__ = subscription_with_options  # type: ignore[method-assign]

    model = fault_app.ai.model

    class ModelThenKill:
        async def generate(self, request: Any, on_chunk: Any = None) -> Any:
            response = await model.generate(request, on_chunk)
            switch.hit("after_model")
            return response

        def __getattr__(self, name: str) -> Any:
            return getattr(model, name)

    fault_app.ai.model = ModelThenKill()  # type: ignore[assignment]
    fault_app.before_return = lambda tool: switch.hit("after_tool_effect")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kill", action="append", default=[], metavar="POINT:N[,N...]")
    parser.add_argument("--state", type=Path, default=None, help="shared by one lane's workers")
    parser.add_argument("--consumer-options", default="{}", help="JSON for the Kafka consumer")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    plan = parse_plan(args.kill)
    if plan and args.state is None:
        raise SystemExit("--kill needs --state")
    # The app must be the very module the CLI loads: import it by the name INTERMISSION_APP uses.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    install(KillSwitch(args.state or Path(os.devnull), plan), json.loads(args.consumer_options))

    from intermission.cli import main as cli

    sys.argv = ["intermission", "worker", "--log-level", args.log_level]
    cli()


if __name__ == "__main__":
    main()
