"""Run only the peer frameworks' interrupt -> resume cycle and print p50/p95.

Usage: ``uv run --group peers python bench/peers_only.py [--warmup N] [--iterations M]
[--turns 0,50] [--only NAME]``. Defaults can also come from the environment
(``BENCH_WARMUP``, ``BENCH_ITERATIONS``, ``BENCH_TURNS``) so CI can shrink a run
without editing the command.
"""

import argparse
import asyncio
import os
import platform
import sys
from pathlib import Path

# bench/ is a folder of scripts, not a package: make the siblings importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _timing
import peers


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=int(os.environ.get("BENCH_WARMUP", "20")))
    parser.add_argument("--iterations", type=int, default=int(os.environ.get("BENCH_ITERATIONS", "200")))
    parser.add_argument(
        "--turns",
        default=os.environ.get("BENCH_TURNS", "0,50"),
        help="comma-separated prior_turns values",
    )
    parser.add_argument("--only", default=None, help="run only peers whose name contains this text")
    return parser.parse_args(argv)


async def _run(args: argparse.Namespace) -> int:
    turns = [int(t) for t in args.turns.split(",") if t.strip()]
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} cpus; warmup={args.warmup} iterations={args.iterations}"
    )
    print(f"{'peer':<24} {'turns':>5} {'p50 ms':>8} {'p95 ms':>8} {'min ms':>8} {'max ms':>8}")
    failures = 0
    for factory in peers.PEERS:
        try:
            peer = factory()
        except (ImportError, peers.PeerUnavailable) as e:
            print(f"{factory.__name__:<24} unavailable: {e}")
            continue
        if args.only and args.only.lower() not in peer.name.lower():
            continue
        for prior_turns in turns:
            # A fresh instance per prior_turns value, so no state carries over.
            peer = factory()
            try:
                await peer.setup(prior_turns)
                samples = await _timing.measure(peer.cycle, warmup=args.warmup, iterations=args.iterations)
            except Exception as e:  # report and go on: one broken peer must not hide the rest
                failures += 1
                print(f"{peer.name:<24} {prior_turns:>5} FAILED: {type(e).__name__}: {e}")
                continue
            s = _timing.summarize(samples)
            print(
                f"{peer.name:<24} {prior_turns:>5} {s.p50_ms:>8.2f} {s.p95_ms:>8.2f} "
                f"{s.min_ms:>8.2f} {s.max_ms:>8.2f}"
            )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(_run(_parse_args(argv)))


if __name__ == "__main__":
    raise SystemExit(main())
