"""A blank answer where the schema asks for text (``minLength: 1``) is refused by the page, by the
server (the producer SDK's check) and so never reaches the worker; the same rule, one place."""

from __future__ import annotations

from typing import Any

import pytest
from approver_kit import demo_inbox, start_run
from intermission_producer import AnswerError, build_resume
from intermission_schemas import RunCompleted
from playwright.async_api import expect

_POST = """async ([run, body]) => {
  const reply = await fetch(`/api/runs/${run}/answers`, {
    method: "POST", headers: writeHeaders(), body: JSON.stringify(body),
  });
  return [reply.status, await reply.json()];
}"""


async def test_a_blank_answer_is_refused_in_the_page_and_on_the_server() -> None:
    async with demo_inbox() as (service, page, url):
        run_id, card = await start_run(page, url, "askQuestion", "Which day suits you?")
        form = card.locator("form.answer")
        ref = await form.get_attribute("data-ref")
        other = card.get_by_label("Your own answer")
        if await other.count():  # the choices of item e: a write-in left blank
            await card.get_by_label("Other").check()
        await card.get_by_role("button", name="Send answer").click()
        await expect(form.get_by_role("status")).to_contain_text("is required")
        assert service.log.topics[service.settings.topics.resumes] == []

        raised = await service.interrupt(run_id)
        with pytest.raises(AnswerError) as refused:
            build_resume(raised, respond={ref: ""}, answered_by="sdk")
        assert refused.value.reason == "invalid_output"

        status, body = await page.evaluate(_POST, [run_id, {"respond": {ref: ""}}])
        assert (status, body["reason"]) == (422, "invalid_output"), body
        assert service.log.topics[service.settings.topics.resumes] == []

        answer: dict[str, Any] = {"respond": {ref: "Sunday"}}
        status, body = await page.evaluate(_POST, [run_id, answer])
        assert status in (200, 202), body
        result = await service.result(run_id)
        assert isinstance(result, RunCompleted)
        assert "Sunday" in result.text
