"""The replay's HTML report: summary, a chart of reasons in inline SVG, per-run diffs; no script.

Rendered from real replays of the seed's samples (in-process), then opened in Debian's chromium
and screenshotted into docs/replay-report.png.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import seed_app
from intermission.replay import Replay, ReplayReport, render_report
from intermission.service import Sealer
from intermission.service.adapters.local import LocalSnapshotStore
from intermission.testing import ServiceHarness
from playwright.async_api import expect
from seed_app import RUNS, record

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "inbox"))

from browser_kit import DOCS, chromium


async def changed_reports(tmp_path: Path) -> list[ReplayReport]:
    async with ServiceHarness(seed_app.ai) as service:
        ids = await record(service)
        replay = Replay(
            source=service.store,
            sealer=Sealer(None),
            ai=seed_app.ai,
            target=LocalSnapshotStore(tmp_path / "changed"),
            label="changed",
            model="changed",
        )
        await replay.run(ids)
        return await replay.reports()


async def test_the_report_summarises_charts_and_diffs_every_run(tmp_path: Path) -> None:
    reports = await changed_reports(tmp_path)
    assert len(reports) == RUNS
    page = render_report("changed <model>", reports)
    assert "<script" not in page  # self-contained: no script, no outside resource
    assert "src=" not in page
    assert "href=" not in page
    assert "changed &lt;model&gt;" in page  # escaped
    questions = sum(1 for n in range(RUNS) if seed_app.changes(n) and seed_app.kind(n) == "question")
    different = sum(1 for n in range(RUNS) if seed_app.changes(n)) - questions
    summary = re.findall(r'<li class="([a-z-]+)"><strong>(\d+)</strong>', page)
    assert summary == [("same", str(RUNS - questions - different)), ("different", str(different)),
                       ("new-question", str(questions))]  # fmt: skip
    chart = page[page.index("<svg") : page.index("</svg>")]
    bars = dict(re.findall(r'text-anchor="end">([^<]+)</text><rect[^>]*></rect><text[^>]*>(\d+)<', chart))
    # Counted by reason, particulars stripped: 2 new questions, 4 blocked transfers.
    assert bars == {
        "final text differs": "6",
        "tool calls differ": "6",
        "outcome completed -&gt; failed": "4",
        "recorded answers not asked for": "4",
        "blocked outside effects": "4",
        "outcome completed -&gt; stopped": "2",
        "asked a new question": "2",
    }
    # Per differing run: its reasons and the diff of its tool calls, lines marked.
    for report in reports:
        if not report.same:
            assert f'id="{report.run_id}"' in page
    assert '<span class="add">' in page
    assert '<span class="del">' in page

    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    async with chromium() as browser:
        tab = await browser.new_page(viewport={"width": 1100, "height": 900})
        await tab.goto(path.as_uri())
        await expect(tab.locator("h1")).to_contain_text(f"{RUNS} run(s)")
        await expect(tab.locator("svg.chart rect")).not_to_have_count(0)
        await expect(tab.locator("section.run")).to_have_count(questions + different)
        await tab.screenshot(path=str(DOCS / "replay-report.png"), full_page=False)
