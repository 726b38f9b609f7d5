"""Approve and Deny as an approver meets them: Deny asks for confirmation and a reason in a
dialog (Cancel sends nothing), both take a comment, and the run's history says who approved or
denied, why, and what they commented. A denied run's badge says "denied", never a green
"completed"."""

from __future__ import annotations

from approver_kit import demo_inbox, start_run
from intermission.testing import ServiceHarness
from intermission_schemas import RunCompleted
from playwright.async_api import Locator, expect


async def _ends_with(service: ServiceHarness, run_id: str, card: Locator, status: str, said: str) -> None:
    """The tool saw ``status``, and the card's history says ``said``."""
    result = await service.result(run_id)
    assert isinstance(result, RunCompleted)
    assert status in result.text
    await expect(card.locator(".history .events")).to_contain_text(said, timeout=15_000)


async def _outcome_is(card: Locator, badge: str, ending: str) -> None:
    """The card's badge and its closing line, as the approver reads them when the run is over."""
    await expect(card.locator("h2 .badge")).to_have_text(badge, timeout=15_000)
    await expect(card.locator(".ending")).to_contain_text(ending)


async def test_deny_asks_why_and_the_history_says_so() -> None:
    async with demo_inbox() as (service, page, url):
        run_id, card = await start_run(page, url, "transferMoney")
        resumes = service.log.topics[service.settings.topics.resumes]
        dialog = page.get_by_role("dialog", name="Deny this call?")

        await card.get_by_role("button", name="Deny").click()
        await expect(dialog).to_be_visible()
        await dialog.get_by_role("button", name="Cancel").click()
        await expect(dialog).to_be_hidden()
        assert resumes == []

        await card.get_by_label("Comment").fill("checked with finance")
        await card.get_by_role("button", name="Deny").click()
        await dialog.get_by_role("button", name="Deny").click()  # no reason yet: stays open
        await expect(dialog).to_be_visible()
        assert resumes == []
        await dialog.get_by_label("Reason").fill("wrong account")
        await dialog.get_by_role("button", name="Deny").click()
        await expect(dialog).to_be_hidden()

        await _ends_with(service, run_id, card, "REJECTED", "denied by inbox: “wrong account”")
        await expect(card.locator(".history .events")).to_contain_text("comment: “checked with finance”")
        await _outcome_is(card, "denied", "Denied by inbox: “wrong account”")


async def test_approve_takes_a_comment_into_the_history() -> None:
    async with demo_inbox() as (service, page, url):
        run_id, card = await start_run(page, url, "transferMoney")
        await card.get_by_label("Comment").fill("as agreed on the phone")
        await card.get_by_role("button", name="Approve").click()
        await _ends_with(service, run_id, card, "COMPLETED", "approved by inbox")
        await expect(card.locator(".history .events")).to_contain_text("comment: “as agreed on the phone”")
        await _outcome_is(card, "completed", "Approved by inbox, then completed")
