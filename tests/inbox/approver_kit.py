"""The demo's tools (transferMoney, askQuestion) behind an inbox served over a ServiceHarness,
and the steps an approver takes in chromium to reach a run's card."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from browser_kit import chromium
from intermission.service.demo import app as demo
from intermission.testing import ServiceHarness
from playwright.async_api import Locator, Page, expect
from served_kit import served


@contextlib.asynccontextmanager
async def demo_inbox(**page_options: object) -> AsyncIterator[tuple[ServiceHarness, Page, str]]:
    """The service, a page of a 1280x1000 chromium (unless ``page_options`` say otherwise), and
    the inbox's URL."""
    async with ServiceHarness(demo.ai) as service, served(service=service) as url, chromium() as browser:
        options = {"viewport": {"width": 1280, "height": 1000}, **page_options}
        context = await browser.new_context(**options)  # type: ignore[arg-type]
        page = await context.new_page()
        try:
            yield service, page, url
        finally:
            await context.close()


async def start_run(page: Page, url: str, tool: str, prompt: str | None = None) -> tuple[str, Locator]:
    """Start a run of ``tool`` from the page's form; its id and its card once it is pending."""
    await page.goto(url)
    await expect(page.locator("body.live")).to_have_count(1)
    if prompt is not None:
        await page.get_by_label("Prompt").fill(prompt)
    await page.select_option("form#start select[name=tool]", tool)
    await page.click("form#start button[type=submit]")
    status = page.locator("form#start .status")
    await expect(status).to_contain_text("started run")
    run_id = (await status.inner_text()).removeprefix("started run ").strip()
    card = page.locator(f'article.run[data-run="{run_id}"]')
    await expect(card).to_have_class("run pending", timeout=15_000)
    return run_id, card
