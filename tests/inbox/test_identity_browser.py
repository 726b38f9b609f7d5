"""Signing in to the inbox at a real OIDC provider, in Debian's chromium.

`intermission dev` with an issuer and a client: opening the inbox leads to the provider's
login; once signed in (and consent given) the browser is back on the inbox. The person who
started a transferMoney run may not approve it; another, signed in beside, does, and each
answer is its signed-in person's. Without the session cookie the API
refuses the same calls.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from browser_kit import chromium, start_a_transfer
from dev_kit import dev_server
from oidc_kit import CLIENT_ID, CLIENT_SECRET, free_port, oidc_provider
from playwright.async_api import BrowserContext, Page, expect

CLIENTS = {
    "confidential": {
        "INTERMISSION_INBOX_OIDC_CLIENT_ID": CLIENT_ID,
        "INTERMISSION_INBOX_OIDC_CLIENT_SECRET": CLIENT_SECRET,
    },
    "public": {"INTERMISSION_INBOX_OIDC_CLIENT_ID": f"{CLIENT_ID}-public"},
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
async def test_sign_in_at_the_provider_then_approve_as_that_person(tmp_path: Path, client: str) -> None:
    port = free_port()
    inbox = f"http://127.0.0.1:{port}/"
    async with (
        oidc_provider([f"{inbox}callback"]) as provider,
        dev_server(
            tmp_path,
            port=port,
            INTERMISSION_INBOX_OIDC_ISSUER=provider.issuer,
            INTERMISSION_INBOX_OIDC_AUDIENCE=CLIENT_ID,
            INTERMISSION_INBOX_OIDC_SCOPES="openid email groups",
            **CLIENTS[client],
        ) as url,
        chromium() as browser,
    ):
        assert url == inbox
        # dave asks for a transfer; as its requester he may not approve it (self_approval), so
        # carol, signed in in a browser of her own, does.
        dave = await browser.new_context(viewport={"width": 1280, "height": 900})
        asker = await _signed_in(dave, url, provider.issuer, "dave")
        run_id = await start_a_transfer(asker, url)
        card = asker.locator(f'article.run[data-run="{run_id}"]')
        # His page offers no buttons that cannot work: it says why, and who must answer.
        await expect(card.get_by_role("note").filter(has_text="You asked for this run")).to_be_visible()
        await expect(card.get_by_role("button", name=re.compile("Approve|Deny"))).to_have_count(0)
        # Sent anyway, through the API his session may use, the worker still refuses it.
        sent = await asker.evaluate(
            """async (run) => {
                const state = await (await fetch(`/api/runs/${run}`)).json();
                const [call] = state.pending.interrupts;
                const reply = await fetch(`/api/runs/${run}/answers?wait=10`, {method: "POST",
                    headers: {"content-type": "application/json", "x-csrftoken":
                        document.querySelector('meta[name="csrf-token"]').content},
                    body: JSON.stringify({snapshotVersion: state.pending.snapshot.version,
                        restart: {[call.ref]: {status: "APPROVED"}}})});
                return reply.json();
            }""",
            run_id,
        )
        assert sent["outcome"] == "rejected", sent
        await expect(card).to_contain_text("self_approval", timeout=15_000)  # the run's history

        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await _signed_in(context, url, provider.issuer, "carol")
        [session] = [c for c in await context.cookies(url) if c["name"] == "intermission_session"]
        assert session["httpOnly"]
        assert session["sameSite"] == "Strict"

        mine = page.locator(f'article.run[data-run="{run_id}"]')
        await mine.locator("button[data-action=approve]").click()
        await expect(mine).to_have_class("run completed", timeout=15_000)
        state = await page.evaluate(f"fetch('/api/runs/{run_id}').then(r => r.json())")
        assert state["status"] == "completed"
        answers = [a["answeredBy"] for a in state["answers"]]
        assert answers == ["dave@example.test", "carol@example.test"]
        assert state["rejections"][0]["reason"] == "self_approval"

        async with httpx.AsyncClient(base_url=url) as anonymous:
            assert (await anonymous.get(f"/api/runs/{run_id}")).status_code == 401
            assert (await anonymous.get("/")).headers["location"] == "/login?next=/"

        await page.goto(f"{url}logout")
        assert await page.evaluate("fetch('/api/pending').then(r => r.status)") == 401


async def _signed_in(context: BrowserContext, url: str, issuer: str, who: str) -> Page:
    """A page of ``context`` on the inbox, signed in at the provider as ``who``."""
    page = await context.new_page()
    await page.goto(url)
    await expect(page).to_have_url(re.compile(re.escape(issuer) + "/interaction/"))
    await page.fill("input[name=login]", who)
    await page.fill("input[name=password]", "any password")
    await page.click("button[type=submit]")
    await expect(page.locator("button[type=submit]")).to_have_text("Continue")  # consent
    await page.click("button[type=submit]")
    await expect(page).to_have_url(url, timeout=15_000)
    await expect(page.locator("form#start")).to_have_count(1)
    return page
