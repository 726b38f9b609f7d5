"""A real Chromium drives `intermission dev`: start a transfer, see its interrupt arrive live,
type a wrong value and see the error, approve, see the run complete. The screenshot it takes is
the one in the README (docs/inbox.png)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from browser_kit import DOCS, approve_a_transfer, chromium
from dev_kit import dev_server as run_dev


@pytest.fixture
async def dev_server(tmp_path: Path) -> AsyncIterator[str]:
    """`intermission dev` as a user runs it, in its own process, on a free port."""
    async with run_dev(tmp_path) as url:
        yield url


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
