"""The start form offers the seed's examples with prompts that match their tool, and the demo's
scripted model does what the prompt says: "$250 to ZZZ999" is a transfer of 25000 cents to
ZZZ999, "...: Monday, Tuesday or Friday" a question with those choices."""

from __future__ import annotations

from approver_kit import demo_inbox, start_run
from playwright.async_api import expect


async def test_the_example_prompts_match_their_tools() -> None:
    async with demo_inbox() as (_, page, url):
        await page.goto(url)
        start = page.locator("form#start")
        tool, prompt = start.get_by_label("Tool"), start.get_by_label("Prompt")
        await expect(tool).to_have_value("transferMoney")
        await expect(prompt).to_have_value("Transfer $1000 to ABC123")
        await tool.select_option("askQuestion")
        await expect(prompt).to_have_value("Ask me which day suits me: Saturday or Sunday")
        await prompt.fill("my own words")
        await tool.select_option("transferMoney")
        await expect(prompt).to_have_value("my own words")  # typed by hand: kept


async def test_the_dev_model_takes_amount_and_account_from_the_prompt() -> None:
    async with demo_inbox() as (service, page, url):
        run_id, card = await start_run(page, url, "transferMoney", "Please send $250 to ZZZ999")
        raised = await service.interrupt(run_id)
        [call] = raised.interrupts
        assert call.input == {"toAccountId": "ZZZ999", "amount": 25000}
        await expect(card.locator(".interrupt")).to_contain_text("ZZZ999")


async def test_the_dev_model_takes_the_choices_from_the_prompt() -> None:
    async with demo_inbox() as (_, page, url):
        _, card = await start_run(page, url, "askQuestion", "Ask me when to meet: Monday, Tuesday or Friday")
        options = card.get_by_role("group", name="Answer").get_by_role("radio")
        await expect(options).to_have_count(4)
        for name in ("Monday", "Tuesday", "Friday", "Other"):
            await expect(card.get_by_role("radio", name=name)).to_have_count(1)
