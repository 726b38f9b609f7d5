"""`intermission dev` as a user runs it, in its own process, with the environment it is given."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path


@contextlib.asynccontextmanager
async def dev_server(tmp_path: Path, *, port: int = 0, **env: str) -> AsyncIterator[str]:
    """The URL it prints once it serves; ``env`` adds INTERMISSION_* settings."""
    environ = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    environ.pop("GEMINI_API_KEY", None)
    environ.pop("GOOGLE_API_KEY", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "intermission.cli",
        "dev",
        "--port",
        str(port),
        "--dir",
        str(tmp_path / "dev"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env=environ,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        found = re.search(r"http://[\d.]+:\d+/", line.decode())
        assert found, f"intermission dev printed no URL: {line!r}"
        yield found.group(0)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)
