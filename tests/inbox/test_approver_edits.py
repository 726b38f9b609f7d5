"""What Approve sends is what the approver sees: the replacement input cannot be edited while
"run it with this input instead" is unticked, and a live update of the run never resets a card
the approver is editing."""

from __future__ import annotations

from approver_kit import demo_inbox, start_run
from intermission_schemas import RunCompleted
from playwright.async_api import expect


async def test_replacement_fields_are_locked_until_ticked() -> None:
    async with demo_inbox() as (service, page, url):
        run_id, card = await start_run(page, url, "transferMoney")
        amount = card.locator('.replace .field[data-key="amount"] > .input')
        await expect(amount).to_be_disabled()  # an edit here would not be sent
        await card.get_by_label("run it with this input instead").check()
        await expect(amount).to_be_enabled()
        await amount.fill("5000")
        await card.get_by_role("button", name="Approve").click()
        result = await service.result(run_id)
        assert isinstance(result, RunCompleted)
        assert "Sent 5000 cents" in result.text


async def test_a_live_update_keeps_the_approvers_edits() -> None:
    async with demo_inbox() as (service, page, url):
        run_id, card = await start_run(page, url, "transferMoney")
        toggle = card.get_by_label("run it with this input instead")
        await toggle.check()
        amount = card.locator('.replace .field[data-key="amount"] > .input')
        await amount.fill("7000")
        await page.locator("h1").click()  # focus leaves the card: only the edits hold it
        await page.evaluate("runId => refresh(runId)", run_id)  # what an event of this run does
        stale = card.get_by_role("status").filter(has_text="changed while you were editing")
        await expect(stale).to_be_visible()
        await expect(toggle).to_be_checked()
        await expect(amount).to_have_value("7000")
        await card.get_by_role("button", name="Approve").click()
        result = await service.result(run_id)
        assert isinstance(result, RunCompleted)
        assert "Sent 7000 cents" in result.text
