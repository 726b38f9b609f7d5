"""Start-up cost: ``import intermission`` and ``intermission demo``, beside an eager-import baseline.

Usage: ``uv run python bench/startup.py [--runs 7]``. Prints, for each measurement, the best of
``--runs`` fresh interpreters (the least disturbed by other processes; the load average is in the
header).

- import: the cumulative microseconds ``python -X importtime -c "import intermission"`` reports
  for the ``intermission`` package.
- demo: wall time of ``intermission demo`` (the console script), from exec to exit.
- baseline: the same two, with the libraries that start-up used to import eagerly (google-genai,
  dotpromptz, jsonschema, aiokafka) imported first, as the code before they became lazy did.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

EAGER = "import google.genai, dotpromptz, jsonschema, aiokafka"
DEMO_MAIN = "from intermission.cli import main\nmain()"
SCRIPT = Path(sys.executable).with_name("intermission")


def import_seconds(prelude: str) -> float:
    code = f"{prelude}\nimport intermission" if prelude else "import intermission"
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    ).stderr
    line = next(line for line in reversed(out.splitlines()) if line.endswith("| intermission"))
    own = int(line.split("|")[1])
    if not prelude:
        return own / 1e6
    # The eager libraries load before the package here, so count them in, as they were when the
    # package imported them itself.
    eager = sum(int(line.split("|")[1]) for line in out.splitlines() if _top_level_of(line, prelude))
    return (own + eager) / 1e6


def _top_level_of(line: str, prelude: str) -> bool:
    name = line.rsplit("|", 1)[-1]
    stripped = name.lstrip()
    return name.startswith(" ") and len(name) - len(stripped) == 1 and stripped in prelude


def demo_seconds(prelude: str) -> float:
    if prelude:
        code = f"import sys\nsys.argv = ['intermission', 'demo']\n{prelude}\n" + DEMO_MAIN
        command = [sys.executable, "-c", code]
    else:
        command = [str(SCRIPT), "demo"]
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    print(f"best of {runs}; load average {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}")
    print(f"{'':10} {'now':>8} {'eager baseline':>16}")
    for label, measure in (("import", import_seconds), ("demo", demo_seconds)):
        now = min(measure("") for _ in range(runs))
        eager = min(measure(EAGER) for _ in range(runs))
        print(f"{label:10} {now:7.3f}s {eager:15.3f}s")


if __name__ == "__main__":
    main()
