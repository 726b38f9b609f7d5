"""The metric names written outside the code agree with the registry: the table in
the README ("Operating it") and every expression of the Grafana dashboard in deploy/grafana/.

After changing METRICS, rewrite the table with ``uv run python tests/observe/test_metrics_catalogue.py``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from intermission.service.observe import METRICS, Metrics

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "README.md"  # the metrics table of its "Operating it" section
DASHBOARD = ROOT / "deploy" / "grafana" / "intermission.json"
BEGIN, END = "<!-- metrics table: begin -->", "<!-- metrics table: end -->"
_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def exposed() -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Each family the registry exposes: its name as written in the table (a counter's with
    _total) -> (type, help, label names)."""
    labels = {spec.name: spec.labels for spec in METRICS}
    found = {}
    for family in Metrics().registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        found[name] = (family.type, family.documentation, labels[name])
    return found


def sample_names() -> set[str]:
    names = set()
    for family in Metrics().registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def render_table() -> str:
    rows = ["| metric | type | labels | meaning |", "| --- | --- | --- | --- |"]
    for name, (kind, meaning, labels) in exposed().items():
        shown = ", ".join(f"`{label}`" for label in labels) or "none"
        rows.append(f"| `{name}` | {kind} | {shown} | {meaning} |")
    return "\n".join(rows)


def documented_table() -> str:
    text = DOCS.read_text()
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip()


def test_every_metric_of_the_list_is_in_the_registry_as_specified() -> None:
    found = exposed()
    assert list(found) == [spec.name for spec in METRICS]
    for spec in METRICS:
        assert found[spec.name][:2] == (spec.kind, spec.meaning)
        assert spec.name.startswith("intermission_")
        if spec.kind == "histogram":
            assert spec.name.endswith("_seconds")


def test_the_documented_table_is_the_registry() -> None:
    assert documented_table() == render_table(), (
        "the README's metrics table is out of date: "
        "run `uv run python tests/observe/test_metrics_catalogue.py`"
    )


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    found = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    found += [v["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return found


def _family_of(sample: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_total"):
        if sample.endswith(suffix):
            return sample.removesuffix(suffix)
    return sample


def test_every_metric_the_dashboard_names_exists() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = _expressions(dashboard)
    named = {name for expr in expressions for name in re.findall(r"\bintermission_[a-z_]+\b", expr)}
    assert named, "the dashboard names no metric"
    assert named <= sample_names(), f"not exposed: {sorted(named - sample_names())}"
    # ...and shows every metric there is.
    families = {family.name for family in Metrics().registry.collect()}
    assert {_family_of(name) for name in named} == families
    quantiles = [e for e in expressions if "histogram_quantile(" in e]
    assert all("_bucket" in e and "le" in e for e in quantiles)
    panel_ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(panel_ids) == len(set(panel_ids))


if __name__ == "__main__":
    text = DOCS.read_text()
    DOCS.write_text(
        text[: text.index(BEGIN) + len(BEGIN)] + "\n" + render_table() + "\n" + text[text.index(END) :]
    )
