"""Debian's chromium driven by Playwright, and the approver's walk through the inbox page.

Playwright cannot download its own browsers here, so it launches /usr/bin/chromium (the Debian
package, which .ci/run installs when it is missing). No chromium is a failure that says what to
install, never a skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from intermission import Intermission, ScriptedModel
from intermission._scripted import reply, tool_call
from intermission.inbox.app import build_app
from intermission.inbox.context import Inbox
from intermission.inbox.serve import serve_app
from intermission_schemas import Message, ToolResponsePart
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[2] / "docs"


def asking_app(tool: str, tool_input: Any) -> Intermission:
    """An app whose model calls ``tool`` with ``tool_input``, then says what the answer was:
    ``decided: <output>``. Define ``tool`` on it, or send it as an inline interrupt."""

    def turn(request: Any) -> Message:
        last = request.messages[-1]
        if last.role == "tool":
            [part] = [p for p in last.content if isinstance(p, ToolResponsePart)]
            return reply(f"decided: {part.tool_response.output}")
        return reply(tool_call(tool, tool_input))

    return Intermission(model=ScriptedModel(turn))


@contextlib.asynccontextmanager
async def served(inbox: Inbox) -> AsyncIterator[str]:
    """``inbox`` served by uvicorn on a free loopback port; yields its URL."""
    stop = asyncio.Event()
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(
        serve_app(build_app(inbox), host="127.0.0.1", port=0, on_ready=ready.set_result, stop=stop)
    )
    try:
        yield await asyncio.wait_for(ready, 30)
    finally:
        stop.set()
        await asyncio.wait_for(serving, 15)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 - once, before the browser starts
        pytest.fail(
            "Debian's chromium is not installed: apt-get update && apt-get install -y chromium "
            "(.ci/run does this)",
            pytrace=False,
        )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def start_a_transfer(page: Page, url: str) -> str:
    """Start a transferMoney run from the page and see its interrupt arrive without a reload.
    Returns the run id."""
    await page.goto(url)
    await page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    await expect(page.locator("body.live")).to_have_count(1)  # the SSE stream is open
    await page.select_option("form#start select[name=tool]", "transferMoney")
    await page.click("form#start button[type=submit]")
    await expect(page.locator("form#start .status")).to_contain_text("started run")
    run_id = (await page.locator("form#start .status").inner_text()).removeprefix("started run ").strip()
    await expect(page.locator(f'article.run[data-run="{run_id}"]')).to_have_class(
        "run pending", timeout=15_000
    )
    return run_id


async def approve_a_transfer(page: Page, url: str, *, screenshot: Path | None = None) -> str:
    """Start a transferMoney run from the page, see its interrupt arrive without a reload, type a
    wrong amount and see the page refuse it, approve with a right one, see the run complete.
    Returns the run id."""
    run_id = await start_a_transfer(page, url)
    card = page.locator(f'article.run[data-run="{run_id}"]')
    await expect(card.locator(".interrupt")).to_contain_text("transferMoney")
    await expect(card.locator(".history")).to_contain_text("calls transferMoney")

    await card.locator(".replace-toggle").check()
    amount = card.locator('.replace .field[data-key="amount"] > .input')
    await amount.fill("12.5")
    await card.locator("button[data-action=approve]").click()
    await expect(card.locator('.replace .field[data-key="amount"] > .error')).to_have_text(
        "must be an integer"
    )
    await expect(card.locator("form.answer .status")).to_contain_text("amount: must be an integer")
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(screenshot), full_page=True)

    await amount.fill("5000")
    await card.locator("button[data-action=approve]").click()
    await expect(card).to_have_class("run completed", timeout=15_000)
    await expect(card).to_contain_text("Approved by")
    await expect(card).to_contain_text("Sent 5000 cents to ABC123")
    assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"
    return run_id
