"""The worker image's build, repeated step by step (no Docker engine runs on these machines).

The build context is what the root .dockerignore leaves, read with docker-py's implementation of
Docker's rules; the build stage's COPY, ENV and RUN lines are carried out in a scratch folder,
with the uv release the Dockerfile pins; then the final stage's copy of the venv runs its entry
point from the path the image runs it from. An instruction this test cannot repeat fails it, so
a new line in the Dockerfile is either understood here or noticed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_manifests import DOCKERFILE, REPO, Instruction, dockerfile_stages
from docker.utils.build import exclude_paths

DOCKERIGNORE = REPO / ".dockerignore"
_UV_PIN = re.compile(r"^pip install (?:--no-cache-dir )?(uv==\d+\.\d+\.\d+)$")


def _ignore_patterns() -> list[str]:
    assert DOCKERIGNORE.is_file(), "no .dockerignore: the build context is the whole repository"
    lines = (line.strip() for line in DOCKERIGNORE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _context(root: Path) -> set[str]:
    """The paths (relative, files and folders) that `docker build` sends from ``root``."""
    return exclude_paths(str(root), _ignore_patterns(), dockerfile=str(DOCKERFILE.relative_to(REPO)))


def _environment(stage: list[Instruction]) -> dict[str, str]:
    environment: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            pairs = shlex.split(instruction.argument)
            assert all("=" in pair for pair in pairs), f"use ENV KEY=value: {instruction}"
            environment.update(pair.split("=", 1) for pair in pairs)
    return environment


def _build_stage() -> list[Instruction]:
    [stage] = [s for s in dockerfile_stages() if s[0].argument.endswith(" AS build")]
    return stage


def _final_stage() -> list[Instruction]:
    return dockerfile_stages()[-1]


def _pinned_uv() -> list[str]:
    """The command of the uv the Dockerfile pins, run by the uv at hand (`uv run` names itself
    in $UV; `uvx` may not be on PATH where uv came from `pip install`)."""
    runner = os.environ.get("UV") or shutil.which("uv")
    assert runner, "no uv to run the pinned uv with"
    return [runner, "tool", "run", "--from", _uv_requirement(), "uv"]


def _uv_requirement() -> str:
    """The `uv==X.Y.Z` the build stage installs."""
    installs = [i.argument for i in _build_stage() if i.keyword == "RUN" and i.argument.startswith("pip ")]
    [install] = installs
    pinned = _UV_PIN.match(install)
    assert pinned, f"uv is not pinned to one release: RUN {install}"
    return pinned.group(1)


def test_uv_is_pinned_to_one_release() -> None:
    requirement = _uv_requirement()
    # A real release: `uv tool run` installs exactly it, and it says so. (The build test syncs uv.lock
    # with it, --locked, so the lock is one this release reads and agrees with.)
    shown = subprocess.run([*_pinned_uv(), "--version"], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.split()[1] == requirement.split("==")[1]


def test_the_venv_is_built_at_the_path_the_final_stage_copies_and_runs() -> None:
    built_at = _environment(_build_stage())["UV_PROJECT_ENVIRONMENT"]
    [copy] = [
        i.argument for i in _final_stage() if i.keyword == "COPY" and i.argument.startswith("--from=build")
    ]
    source, target = copy.split()[1:]
    assert source == built_at
    assert target == built_at
    assert _environment(_final_stage())["PATH"].startswith(f"{built_at}/bin:")


def test_the_image_runs_as_a_numeric_user_that_is_not_root() -> None:
    [user] = [i.argument for i in _final_stage() if i.keyword == "USER"]
    # Kubernetes checks runAsNonRoot only against a number; a name fails the pod at start.
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert gid.isdigit()
    assert int(uid) != 0
    assert int(gid) != 0


@pytest.mark.parametrize(
    "left_out",
    [
        ".venv/lib/python3.11/site-packages/big.so",
        ".git/objects/pack/pack-1.pack",
        "consumer/.venv/bin/python",
        "consumer/src/intermission/__pycache__/cli.cpython-311.pyc",
        ".mypy_cache/3.11/cache.db",
        ".pytest_cache/v/cache/lastfailed",
        ".ruff_cache/0.8.0/cache",
        "schemas/.ruff_cache/x",
        "node_modules/axe-core/axe.min.js",
        "tests/oidc/node_modules/oidc-provider/index.js",
        "producer/src/intermission_producer/node_modules/x.js",
        "bench/.peers/env/lib/x.py",
    ],
)
def test_the_build_context_leaves_out_venvs_git_caches_and_node_modules(
    tmp_path: Path, left_out: str
) -> None:
    kept = "consumer/src/intermission/cli.py"
    for name in (left_out, kept):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    context = _context(tmp_path)
    assert kept in context
    assert left_out not in context
    assert not any(part in {".venv", ".git", "node_modules"} for p in context for part in Path(p).parts)


def test_the_build_context_is_what_the_copy_lines_take_and_no_more() -> None:
    context = _context(REPO)
    sources = {
        source
        for i in _build_stage()
        if i.keyword == "COPY"
        for source in i.argument.split()[:-1]
        if not source.startswith("--")
    }
    tracked = subprocess.run(
        ["git", "ls-files", "--", *sources], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked, sources
    missing = set(tracked) - context
    assert not missing, f".dockerignore leaves out files the image copies: {sorted(missing)[:5]}"
    always_sent = {".dockerignore", str(DOCKERFILE.relative_to(REPO))}  # Docker reads them first
    outside = {p for p in context if Path(p).parts[0] not in sources} - always_sent
    assert not outside, f"the context holds what no COPY takes: {sorted(outside)[:5]}"
    size = sum((REPO / p).stat().st_size for p in context if (REPO / p).is_file())
    assert size < 20 * 1024 * 1024, f"the build context is {size} bytes"


def _copy_into(context: Path, argument: str, workdir: Path) -> None:
    """COPY's rules: a folder's contents (not the folder) go to the target; files go into a
    target ending in `/`, else become it."""
    *sources, target = argument.split()
    destination = workdir / target
    for source in sources:
        path = context / source
        if path.is_dir():
            shutil.copytree(path, destination, dirs_exist_ok=True)
        elif target.endswith("/"):
            destination.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, destination / path.name)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, destination)


def test_the_build_steps_give_an_entry_point_that_starts(tmp_path: Path) -> None:
    """The build stage's lines, carried out on the build context with the venv at a stand-in for
    its final path; then its entry point, for both commands the manifests run."""
    context = tmp_path / "context"
    for relative in sorted(_context(REPO)):
        if (REPO / relative).is_file():
            (context / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / relative, context / relative)
    stage = _build_stage()
    final_path = _environment(stage)["UV_PROJECT_ENVIRONMENT"]
    venv = tmp_path / final_path.lstrip("/")
    environment = {**os.environ, **_environment(stage), "UV_PROJECT_ENVIRONMENT": str(venv)}
    environment.pop("VIRTUAL_ENV", None)
    uv = _pinned_uv()
    workdir = tmp_path
    for instruction in stage[1:]:
        match instruction.keyword:
            case "WORKDIR":
                workdir = tmp_path / instruction.argument.lstrip("/")
                workdir.mkdir(parents=True, exist_ok=True)
            case "COPY":
                _copy_into(context, instruction.argument, workdir)
            case "ENV":
                pass  # taken above, with the venv's path moved into tmp_path
            case "RUN" if instruction.argument.startswith("pip install "):
                pass  # the pinned uv: `uv tool run` stands in for it
            case "RUN" if instruction.argument.startswith("uv "):
                command = [*uv, *shlex.split(instruction.argument)[1:]]
                ran = subprocess.run(command, cwd=workdir, env=environment, capture_output=True, timeout=600)
                assert ran.returncode == 0, ran.stderr[-2000:]
            case _:
                pytest.fail(f"this test cannot repeat `{instruction.keyword} {instruction.argument}`")
    shutil.rmtree(workdir)  # the final stage has no /src: nothing may point back into it
    shutil.rmtree(context)
    for command, shows in (["--help"], "worker"), (["inbox", "--help"], "--port"):
        started = subprocess.run(
            [str(venv / "bin" / "intermission"), *command], capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, started.stderr[-2000:]
        assert shows in started.stdout
