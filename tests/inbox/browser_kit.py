"""Debian's chromium driven by Playwright, and the approver's walk through the inbox page.

Playwright cannot download its own browsers here, so it launches /usr/bin/chromium (the Debian
package, which .ci/run installs when it is missing). No chromium is a failure that says what to
install, never a skip.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
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


async def approve_a_transfer(page: Page, url: str, *, screenshot: Path | None = None) -> str:
    """Start a transferMoney run from the page, see its interrupt arrive without a reload, type a
    wrong amount and see the page refuse it, approve with a right one, see the run complete.
    Returns the run id."""
    await page.goto(url)
    await page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    await expect(page.locator("body.live")).to_have_count(1)  # the SSE stream is open
    await page.select_option("form#start select[name=tool]", "transferMoney")
    await page.click("form#start button[type=submit]")
    await expect(page.locator("form#start .status")).to_contain_text("started run")
    run_id = (await page.locator("form#start .status").inner_text()).removeprefix("started run ").strip()

    card = page.locator(f'article.run[data-run="{run_id}"]')
    await expect(card).to_have_class("run pending", timeout=15_000)
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
    await expect(card).to_contain_text("Completed")
    await expect(card).to_contain_text("Sent 5000 cents to ABC123")
    assert await page.evaluate("window.__sameDocument === true"), "the page reloaded"
    return run_id
