"""The README's webhook metrics table is the dispatcher's registry.

After changing WEBHOOK_METRICS, rewrite it with ``uv run python tests/webhooks/test_metrics_table.py``.
"""

from __future__ import annotations

from pathlib import Path

from intermission.webhooks import WEBHOOK_METRICS, WebhookMetrics

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- webhook metrics table: begin -->", "<!-- webhook metrics table: end -->"


def render_table() -> str:
    metrics = WebhookMetrics()
    metrics.deliveries.labels("s").inc()  # families with labels show only once used
    exposed = {family.name for family in metrics.registry.collect()}
    rows = ["| metric | type | labels | meaning |", "| --- | --- | --- | --- |"]
    for spec in WEBHOOK_METRICS:
        assert spec.name.removesuffix("_total") in exposed
        labels = ", ".join(f"`{label}`" for label in spec.labels)
        rows.append(f"| `{spec.name}` | {spec.kind} | {labels} | {spec.meaning} |")
    return "\n".join(rows)


def test_the_documented_table_is_the_registry() -> None:
    text = README.read_text()
    documented = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()
    assert documented == render_table(), "run `uv run python tests/webhooks/test_metrics_table.py`"


if __name__ == "__main__":
    text = README.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + render_table() + "\n" + text[end:])
