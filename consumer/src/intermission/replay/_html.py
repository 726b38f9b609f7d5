"""A replay's reports as one self-contained HTML page: ``intermission replay --report r.html``.

A summary (same / different / new question), the differing runs counted by reason as an inline
SVG bar chart, and per run the diff of final text, structured output and tool calls. No script
and no outside resource: the file opens anywhere, mailed or archived, and shows the same. Every
value from a run is escaped, since model text and tool inputs are not ours.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from html import escape

from ._replay import ReplayReport

__all__ = ["render_report", "verdict"]

_BAR_HEIGHT = 22
_CHART_WIDTH = 640
_LABEL_WIDTH = 300


def verdict(report: ReplayReport) -> str:
    """same, new question (the replay asked something the original never did), or different."""
    if report.same:
        return "same"
    return "new question" if report.new_questions else "different"


def reason_kind(reason: str) -> str:
    """A reason without its particulars, so that like reasons count together."""
    if reason.startswith("asked a question the original never did"):
        return "asked a new question"
    if reason.startswith("outcome "):
        return re.sub(r" \(.*\)$", "", reason)
    if reason.startswith("blocked "):
        return "blocked outside effects"
    if reason.endswith("recorded answer(s) not asked for"):
        return "recorded answers not asked for"
    return reason


def render_report(label: str, reports: Sequence[ReplayReport]) -> str:
    verdicts = Counter(verdict(r) for r in reports)
    reasons = Counter(reason_kind(reason) for r in reports for reason in r.reasons)
    summary = "".join(
        f'<li class="{_css(kind)}"><strong>{verdicts.get(kind, 0)}</strong> {kind}</li>'
        for kind in ("same", "different", "new question")
    )
    differing = [r for r in reports if not r.same]
    runs = "".join(_run(r) for r in differing) or "<p>Every run replayed the same.</p>"
    same_runs = ", ".join(escape(r.run_id) for r in reports if r.same) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Replay {escape(label)}</title>
<style>{_STYLE}</style></head>
<body>
<h1>Replay <code>{escape(label)}</code>: {len(reports)} run(s)</h1>
<ul class="summary">{summary}</ul>
<h2>Differences by reason</h2>
{_chart(reasons)}
<h2>Runs that differ ({len(differing)})</h2>
{runs}
<details class="same-runs"><summary>Runs that replayed the same ({verdicts.get("same", 0)})</summary>
<p>{same_runs}</p></details>
</body></html>
"""


def _chart(reasons: Counter[str]) -> str:
    if not reasons:
        return "<p>No differences.</p>"
    rows = reasons.most_common()
    most = rows[0][1]
    height = _BAR_HEIGHT * len(rows) + 8
    bars = []
    for index, (reason, count) in enumerate(rows):
        y = index * _BAR_HEIGHT + 4
        width = max(2, round((_CHART_WIDTH - _LABEL_WIDTH - 40) * count / most))
        bars.append(
            f'<text x="{_LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end">{escape(reason)}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + 2}" width="{width}" height="{_BAR_HEIGHT - 6}"></rect>'
            f'<text x="{_LABEL_WIDTH + width + 6}" y="{y + 15}">{count}</text>'
        )
    return (
        f'<svg class="chart" role="img" aria-label="differing runs by reason" '
        f'width="{_CHART_WIDTH}" height="{height}" viewBox="0 0 {_CHART_WIDTH} {height}">'
        f"{''.join(bars)}</svg>"
    )


def _run(report: ReplayReport) -> str:
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in report.reasons)
    diffs = "".join(
        _diff(title, text)
        for title, text in (
            ("final text", report.text_diff),
            ("structured output", report.output_diff),
            ("tool calls", report.tool_calls_diff),
        )
        if text
    )
    questions = "".join(
        f"<li><code>{escape(str(q.get('tool')))}</code> {escape(_json(q.get('input')))}</li>"
        for q in report.new_questions
    )
    asked = f"<h4>New questions</h4><ul>{questions}</ul>" if questions else ""
    kind = verdict(report)
    how = f"{report.original} \u2192 {report.replayed} ({kind}), replayed as {report.replay_run_id}"
    title = f"<h3>{escape(report.run_id)} <small>{escape(how)}</small></h3>"
    body = f"{title}<ul class=reasons>{reasons}</ul>{asked}{diffs}"
    return f'<section class="run {_css(kind)}" id="{escape(report.run_id)}">{body}</section>'


def _diff(title: str, text: str) -> str:
    lines = []
    for line in text.splitlines():
        css = "add" if line.startswith("+") and not line.startswith("+++") else ""
        css = "del" if line.startswith("-") and not line.startswith("---") else css
        lines.append(f'<span class="{css}">{escape(line)}</span>' if css else escape(line))
    return f"<h4>{escape(title)}</h4><pre>{chr(10).join(lines)}</pre>"


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def _css(kind: str) -> str:
    return kind.replace(" ", "-")


_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1d2330; }
code, pre { font-family: ui-monospace, monospace; }
.summary { display: flex; gap: 1rem; list-style: none; padding: 0; }
.summary li { padding: .6rem 1rem; border-radius: .4rem; background: #eef1f5; }
.summary strong { font-size: 1.5rem; display: block; }
.summary .same { background: #e3f4e6; } .summary .different { background: #fdecea; }
.summary .new-question { background: #fff5d6; }
.chart text { font-size: 13px; fill: #1d2330; } .chart rect { fill: #c2410c; }
.run { border-left: 4px solid #c2410c; padding: .2rem 1rem; margin: 1rem 0; background: #fafbfc; }
.run.new-question { border-color: #b8860b; }
.run small { color: #5b6472; font-weight: normal; }
pre { background: #fff; border: 1px solid #dde1e7; padding: .6rem; overflow-x: auto; }
.add { color: #166534; background: #e3f4e6; } .del { color: #991b1b; background: #fdecea; }
"""
