"""Forms generated from an output JSON Schema, driven in Chromium: an enum, a number, a boolean,
an optional string, an array of objects (added and removed in the page) and a nested object. A
wrong type is refused in the page; a value the page cannot judge (a minimum) is refused by the
server's check (the producer SDK's) and shown at its field; the right answer completes the run."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from browser_kit import asking_app, chromium
from intermission import Intermission
from intermission.inbox.app import build_app
from intermission.inbox.context import Inbox
from intermission.inbox.serve import serve_app
from intermission.inbox.view import PendingView
from intermission.testing import ServiceHarness
from intermission_schemas import RunCompleted
from playwright.async_api import expect
from pydantic import BaseModel, Field


class Line(BaseModel):
    sku: str
    quantity: int = Field(ge=1)


class Address(BaseModel):
    city: str
    zip: str


class Decision(BaseModel):
    verdict: Literal["ship", "hold", "cancel"]
    priority: float
    gift: bool
    note: str | None = None
    lines: list[Line]
    address: Address


def _app() -> Intermission:
    ai = asking_app("reviewOrder", {"order": 17})
    ai.define_interrupt(
        name="reviewOrder", description="a person decides an order", input_schema=dict, output_schema=Decision
    )
    return ai


async def test_a_nested_form_is_checked_in_the_page_and_on_the_server() -> None:
    async with ServiceHarness(_app()) as service:
        topics = service.settings.topics
        inbox = Inbox(
            view=PendingView(service.log, topics), transport=service.log, topics=topics, tools=["reviewOrder"]
        )
        stop = asyncio.Event()
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        serving = asyncio.create_task(
            serve_app(build_app(inbox), host="127.0.0.1", port=0, on_ready=ready.set_result, stop=stop)
        )
        try:
            url = await asyncio.wait_for(ready, 30)
            async with chromium() as browser:
                page = await browser.new_page(viewport={"width": 1280, "height": 1000})
                await page.goto(url)
                await page.select_option("form#start select[name=tool]", "reviewOrder")
                await page.click("form#start button[type=submit]")
                card = page.locator("article.run.pending")
                await expect(card).to_have_count(1, timeout=15_000)
                form = card.locator(".output > .field")

                def field(*keys: str) -> Any:
                    return form.locator(" > ".join(f'.field[data-key="{k}"]' for k in keys)).first

                await field("verdict").locator("> select").select_option(label="hold")
                await field("priority").locator("> .input").fill("high")
                await field("gift").locator("> .input").check()
                lines = field("lines")
                for _ in range(3):
                    await lines.locator("> button.add").click()
                items = lines.locator("> .items > .item")
                await expect(items).to_have_count(3)
                await items.nth(2).locator("> button.remove").click()
                await expect(items).to_have_count(2)
                for i, (sku, qty) in enumerate([("A-1", "2"), ("B-2", "0")]):
                    await items.nth(i).locator('.field[data-key="sku"] > .input').fill(sku)
                    await items.nth(i).locator('.field[data-key="quantity"] > .input').fill(qty)
                await form.locator('.field[data-key="address"] .field[data-key="city"] > .input').fill("Lyon")
                await form.locator('.field[data-key="address"] .field[data-key="zip"] > .input').fill("69001")
                send = card.locator("button[data-action=respond]")
                status = card.locator("form.answer .status")

                await send.click()  # "high" is no number: the page says so, nothing is sent
                await expect(field("priority").locator("> .error")).to_have_text("must be a number")
                assert service.log.topics[topics.resumes] == []

                await field("priority").locator("> .input").fill("2.5")
                await send.click()  # quantity 0 is below the schema's minimum: the server says so
                await expect(status).to_contain_text("refused (invalid_output)")
                quantity_error = items.nth(1).locator('.field[data-key="quantity"] > .error')
                await expect(quantity_error).to_contain_text("less than the minimum of 1")
                assert service.log.topics[topics.resumes] == []

                await items.nth(1).locator('.field[data-key="quantity"] > .input').fill("4")
                await send.click()
                await expect(page.locator("article.run.completed")).to_have_count(1, timeout=15_000)
            [run_id] = list(inbox.view.runs)
            result = await service.result(run_id)
            assert isinstance(result, RunCompleted)
            for expected in ("'verdict': 'hold'", "'priority': 2.5", "'gift': True", "'quantity': 4", "Lyon"):
                assert expected in result.text, result.text
            assert "'note'" not in result.text  # an empty optional field is left out
        finally:
            stop.set()
            await asyncio.wait_for(serving, 15)
