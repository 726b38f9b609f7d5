"""The inbox on a 390 px phone: no horizontal scroll, the approver reaches Approve with the
keyboard alone, and axe-core (4.x, from npm; ``npm ci`` on first use) finds no serious or
critical accessibility violation on a page with a pending transfer, a question and a finished
run. axe is injected by the test with CSP bypassed for the test's context only."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from approver_kit import demo_inbox, start_run
from intermission_schemas import RunCompleted
from playwright.async_api import Page, expect

AXE = Path(__file__).resolve().parent / "axe"
PHONE: dict[str, Any] = {"viewport": {"width": 390, "height": 844}, "bypass_csp": True, "has_touch": True}


@pytest.fixture(scope="module")
def axe_script() -> Path:
    script = AXE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(
                "npm is needed to install axe-core for the accessibility test (Node 20+)", pytrace=False
            )
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=AXE, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return script


async def _serious_violations(page: Page, script: Path) -> list[dict[str, Any]]:
    await page.add_script_tag(path=str(script))
    found: list[dict[str, Any]] = await page.evaluate(
        """async () => (await axe.run(document)).violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                           nodes: v.nodes.slice(0, 3).map((n) => n.html) }))"""
    )
    return found


async def _no_sideways_scroll(page: Page) -> None:
    widths = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


async def test_the_inbox_on_a_phone(axe_script: Path) -> None:
    async with demo_inbox(**PHONE) as (service, page, url):
        done_id, done_card = await start_run(page, url, "transferMoney", "Transfer $500 to OTHER1")
        await done_card.get_by_role("button", name="Approve").click()
        assert isinstance(await service.result(done_id), RunCompleted)
        await start_run(page, url, "askQuestion")
        run_id, card = await start_run(page, url, "transferMoney")
        await expect(page.locator("article.run.completed")).to_have_count(1)
        await _no_sideways_scroll(page)
        violations = await _serious_violations(page, axe_script)
        assert violations == [], "\n".join(map(str, violations))

        approve = card.get_by_role("button", name="Approve")
        for _ in range(80):  # the keyboard alone reaches Approve
            await page.keyboard.press("Tab")
            if await approve.evaluate("button => button === document.activeElement"):
                break
        else:
            pytest.fail("Tab never reached the Approve button")
        await page.keyboard.press("Enter")
        result = await service.result(run_id)
        assert isinstance(result, RunCompleted)
        await expect(card.locator(".ending")).to_contain_text("Approved by inbox", timeout=15_000)
        await _no_sideways_scroll(page)
