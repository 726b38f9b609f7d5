"""The worker image's install steps, repeated here (no Docker engine runs on these machines):
the venv is built where the final stage runs it, and its entry point starts from there."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    return [tuple(line.split(" ", 1)) for line in lines if line and not line.startswith("#")]  # type: ignore[misc]


def test_the_venv_is_built_at_the_path_the_final_stage_copies_and_runs() -> None:
    steps = _instructions()
    built_at = next(
        v.split("=", 1)[1] for k, v in steps if k == "ENV" and v.startswith("UV_PROJECT_ENVIRONMENT=")
    )
    [copy] = [v for k, v in steps if k == "COPY" and v.startswith("--from=build")]
    source, target = copy.split()[1:]
    path_env = next(v for k, v in steps if k == "ENV" and v.startswith("PATH="))
    assert source == built_at
    assert target == built_at
    assert path_env.startswith(f"PATH={built_at}/bin:")


def test_the_install_steps_give_an_entry_point_that_starts(tmp_path: Path) -> None:
    """RUN uv sync ..., with the venv at a stand-in for the final path, then the entry point."""
    steps = _instructions()
    [sync] = [v for k, v in steps if k == "RUN" and v.startswith("uv sync")]
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, source / name)
    for member in ("schemas", "producer", "consumer"):
        shutil.copytree(REPO / member, source / member, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    venv = tmp_path / "opt" / "intermission"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(re.split(r"\s+", sync), cwd=source, env=env, check=True, capture_output=True, timeout=600)
    shutil.rmtree(source)  # the final stage has no /src: nothing may point back into it
    started = subprocess.run(
        [str(venv / "bin" / "intermission"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr[-2000:]
    assert "worker" in started.stdout
