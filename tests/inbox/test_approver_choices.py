"""askQuestion offers its choices (the seed's ``choices`` and ``allowOther`` in its input) as
options the approver picks, with a write-in only when the call allows one."""

from __future__ import annotations

from approver_kit import demo_inbox, start_run
from intermission_schemas import RunCompleted
from playwright.async_api import expect


async def test_the_question_offers_its_choices() -> None:
    async with demo_inbox() as (service, page, url):
        run_id, card = await start_run(page, url, "askQuestion", "Which day suits you?")
        answer = card.get_by_role("group", name="Answer")
        await expect(answer.get_by_role("radio")).to_have_count(3)  # Saturday, Sunday, Other
        await card.get_by_role("button", name="Send answer").click()  # nothing picked yet
        await expect(card.locator("form.answer").get_by_role("status")).to_contain_text("pick one")
        assert service.log.topics[service.settings.topics.resumes] == []
        await answer.get_by_role("radio", name="Sunday").check()
        await card.get_by_role("button", name="Send answer").click()
        result = await service.result(run_id)
        assert isinstance(result, RunCompleted)
        assert "'Sunday'" in result.text
        await expect(card.locator(".history .events")).to_contain_text("answered by inbox: “Sunday”")


async def test_a_write_in_is_sent_as_typed() -> None:
    async with demo_inbox() as (service, page, url):
        run_id, card = await start_run(page, url, "askQuestion", "Which day suits you?")
        await card.get_by_role("radio", name="Other").check()
        await card.get_by_label("Your own answer").fill("Monday evening")
        await card.get_by_role("button", name="Send answer").click()
        result = await service.result(run_id)
        assert isinstance(result, RunCompleted)
        assert "'Monday evening'" in result.text
