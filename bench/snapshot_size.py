"""Stored snapshot bytes against the raw history they hold, before and after the history is stored
once, with and without zstd.

Usage: ``uv run python bench/snapshot_size.py [--turns 0,10,50] [--repeat 2000]``. A benchmark, not
a test: it prints numbers and never fails on one.

Each pause is made by the production worker (``intermission.testing.ServiceHarness``: the real
worker on an in-process log and a directory store, HMAC-sealed), from a request carrying N earlier
turns (a user and a model message each, about 190 characters of varied English-like text, so zstd
is not flattered by repetition) plus the transfer the scripted model pauses on. "after" is the
object the worker stored, byte for byte. "before" is the same Snapshot as the release before this
one stored it: ``Sealer.seal(key, encode(snapshot))``, seal 2 over the whole Snapshot JSON, which
holds the history in ``request.messages`` and again in ``paused.messages``. The raw history is
``encode(snapshot.paused.messages)``. The times are one seal+encode and one open+decode of the
snapshot, in this process, median of ``--repeat``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "service"))

from intermission.service import Sealer, snapshot_key
from intermission.service.runs.snapshots import Snapshots
from intermission.service.wiring.settings import Settings
from intermission.testing import ServiceHarness
from intermission_schemas import (
    GenerateRequest,
    Message,
    Snapshot,
    TextPart,
    decode_snapshot,
    encode,
    encode_snapshot,
)
from service_app import build

SEAL_KEY = "bench-seal-key"
_WORDS = [
    *("account", "balance", "transfer", "payment", "statement", "landlord", "invoice", "month", "week"),
    *("amount", "received", "sent", "pending", "approved", "the", "a", "of", "to", "for", "on", "with"),
    *("my", "your", "last", "next", "this", "that", "please", "check", "confirm", "savings", "checking"),
    *("card", "limit", "fee", "interest", "rate", "date", "due", "overdue", "refund", "order", "number"),
]


def _sentence(rng: random.Random, length: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < length:
        words.append(rng.choice(_WORDS))
    return " ".join(words).capitalize() + f" (ref {rng.randrange(10**6):06d})."


def history(turns: int) -> list[Message]:
    """The scripted model pauses on the "transfer" of the first user message."""
    rng = random.Random(turns)
    messages = [Message(role="user", content=[TextPart("transfer")])]
    for _ in range(turns):
        messages.append(Message(role="model", content=[TextPart(_sentence(rng, 180))]))
        messages.append(Message(role="user", content=[TextPart(_sentence(rng, 180))]))
    return messages


async def stored_pause(turns: int, compression: str, directory: Path) -> tuple[Snapshot, bytes]:
    ai, _ = build()
    settings = Settings(seal_key=SEAL_KEY, snapshot_compression=compression)
    run_id = f"size-{turns}-{compression}"
    async with ServiceHarness(ai, settings=settings, directory=directory) as service:
        await service.client.submit(
            GenerateRequest(
                run_id=run_id,
                idempotency_key=run_id,
                system="You move money only when asked.",
                messages=history(turns),
                tools=["transferMoney"],
            )
        )
        await service.interrupt(run_id, timeout=30)
        stored = await service.store.get(snapshot_key(run_id, 1))
        loaded = await Snapshots(service.store, Sealer(SEAL_KEY.encode())).load(run_id, 1)
    assert stored is not None
    assert loaded is not None
    return loaded.snapshot, stored.data


def median_us(work: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def timings(snapshot: Snapshot, repeat: int) -> dict[str, tuple[float, float]]:
    """(seal+encode, open+decode) µs per way of storing."""
    key = snapshot_key(snapshot.run_id, 1)
    secret = SEAL_KEY.encode()
    ways: dict[str, tuple[Sealer, Callable[[Snapshot], bytes]]] = {
        "before": (Sealer(secret), encode),
        "after": (Sealer(secret), encode_snapshot),
        "after+zstd": (Sealer(secret, compression="zstd"), encode_snapshot),
    }
    out = {}
    for name, (sealer, encoder) in ways.items():
        data = sealer.seal(key, encoder(snapshot))
        write = median_us(lambda s=sealer, e=encoder: s.seal(key, e(snapshot)), repeat)
        read = median_us(lambda s=sealer, d=data: decode_snapshot(s.open(key, d)), repeat)
        out[name] = (write, read)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", default="0,10,50")
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    turns_list = [int(t) for t in args.turns.split(",") if t.strip()]
    print(f"snapshot size: python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}")
    print("bytes of the stored object (seal header included); ratio = stored / raw history JSON")
    header = (
        f"{'turns':>5} {'history B':>10} {'before B':>9} {'ratio':>6} {'after B':>8} {'ratio':>6} "
        f"{'zstd B':>7} {'ratio':>6}   us write/read: before | after | after+zstd"
    )
    print(header)
    with tempfile.TemporaryDirectory(prefix="snapshot-size-") as root:
        for turns in turns_list:
            plain, plain_data = await stored_pause(turns, "none", Path(root) / f"{turns}-none")
            zstd, zstd_data = await stored_pause(turns, "zstd", Path(root) / f"{turns}-zstd")
            assert encode(plain.paused.messages) == encode(zstd.paused.messages)
            raw = len(encode(plain.paused.messages))
            before = len(Sealer(SEAL_KEY.encode()).seal(snapshot_key(plain.run_id, 1), encode(plain)))
            times = timings(plain, args.repeat)
            spent = " | ".join(f"{w:.0f}/{r:.0f}" for w, r in times.values())
            print(
                f"{turns:>5} {raw:>10} {before:>9} {before / raw:>6.2f} {len(plain_data):>8} "
                f"{len(plain_data) / raw:>6.2f} {len(zstd_data):>7} {len(zstd_data) / raw:>6.2f}   {spent}"
            )
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
