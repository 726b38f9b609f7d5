"""The filter bar: by state (waiting, answered, mine), by tool, by run id; a finished run is
folded to its outcome, its history one click away."""

from __future__ import annotations

from approver_kit import demo_inbox, start_run
from intermission_schemas import RunCompleted
from playwright.async_api import expect


async def test_filters_and_folded_finished_runs() -> None:
    async with demo_inbox() as (service, page, url):
        done_id, done = await start_run(page, url, "transferMoney", "Transfer $500 to OTHER1")
        await done.get_by_role("button", name="Approve").click()
        assert isinstance(await service.result(done_id), RunCompleted)
        question_id, _ = await start_run(page, url, "askQuestion")
        transfer_id, _ = await start_run(page, url, "transferMoney")
        await page.reload()
        runs = page.get_by_role("region", name="Runs").locator("article.run")
        count = page.get_by_role("search", name="Filter runs").get_by_role("status")
        await expect(count).to_have_text("showing 3 of 3 runs")

        finished = page.locator(f'article.run[data-run="{done_id}"]')
        await expect(finished.locator(".ending")).to_be_visible()
        await expect(finished.get_by_role("heading", name="Events")).to_be_hidden()  # folded
        await finished.get_by_text("History").click()
        await expect(finished.get_by_role("heading", name="Events")).to_be_visible()

        show = page.get_by_label("Show")
        await show.select_option("pending")
        await expect(count).to_have_text("showing 2 of 3 runs")
        await expect(finished).to_be_hidden()
        await show.select_option("answered")
        await expect(runs.filter(visible=True)).to_have_count(1)
        await expect(finished).to_be_visible()
        await show.select_option("mine")  # the harness's inbox answers as "inbox"
        await expect(runs.filter(visible=True)).to_have_count(1)
        await show.select_option("all")

        await page.get_by_role("search").get_by_label("Tool").select_option("askQuestion")
        await expect(runs.filter(visible=True)).to_have_count(1)
        await expect(page.locator(f'article.run[data-run="{question_id}"]')).to_be_visible()
        await page.get_by_role("search").get_by_label("Tool").select_option("")
        await page.get_by_label("Run id").fill(transfer_id[-6:])
        await expect(runs.filter(visible=True)).to_have_count(1)
        await expect(page.locator(f'article.run[data-run="{transfer_id}"]')).to_be_visible()
