"""A real Chromium drives `intermission dev`: start a transfer, see its interrupt arrive live,
type a wrong value and see the error, approve, see the run complete. The screenshot it takes is
the one in the README (docs/inbox.png)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from browser_kit import DOCS, approve_a_transfer, chromium


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[str]:
    """`intermission dev` as a user runs it, in its own process, on a free port."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("GEMINI_API_KEY", None)
    env.pop("GOOGLE_API_KEY", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "intermission.cli",
        "dev",
        "--port",
        "0",
        "--dir",
        str(tmp_path / "dev"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
        env=env,
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


async def test_intermission_dev_in_chromium(dev_server: str, tmp_path: Path) -> None:
    # The README's screenshot is this test's; it is rewritten only when asked, so a test run
    # leaves the working tree as it found it.
    refresh = os.environ.get("INTERMISSION_REFRESH_SCREENSHOT") == "1"
    shot = DOCS / "inbox.png" if refresh else tmp_path / "inbox.png"
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        run_id = await approve_a_transfer(page, dev_server, screenshot=shot)
    assert shot.stat().st_size > 10_000
    async with httpx.AsyncClient(base_url=dev_server) as client:
        state = (await client.get(f"/api/runs/{run_id}")).json()
    assert state["status"] == "completed"
    assert "Sent 5000 cents" in state["result"]["text"]
    assert any(a["answeredBy"] == "dev" for a in state["answers"])
