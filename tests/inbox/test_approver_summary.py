"""A paused call as the approver reads it: the tool's title and description, what the tool
says, each input field by its schema's title, an amount in cents shown as dollars (the schema
says it is cents), and the raw JSON one click away."""

from __future__ import annotations

from approver_kit import demo_inbox, start_run
from playwright.async_api import expect


async def test_a_transfer_is_summarised_in_dollars() -> None:
    async with demo_inbox() as (_, page, url):
        _, card = await start_run(page, url, "transferMoney", "Transfer $1000 to ABC123")
        call = card.locator(".interrupt")
        await expect(call.get_by_role("heading", name="transferMoney")).to_be_visible()
        await expect(call.get_by_role("note")).to_have_text("Please confirm sending an amount > $100.")
        summary = call.locator("dl.summary")
        await expect(summary).to_contain_text("$1,000.00 (100000 cents)")
        await expect(summary).to_contain_text("ABC123")
        raw = call.locator("details.raw")
        await expect(raw.locator("pre").first).to_be_hidden()
        await raw.get_by_text("Raw JSON").click()
        await expect(raw.locator("pre").first).to_contain_text('"amount": 100000')
