"""The README's word on the Grafana dashboard agrees with deploy/grafana/intermission.json.
(Its expressions are checked against the metrics registry in tests/observe.)"""

from __future__ import annotations

import json
import re

from deploy_manifests import DEPLOY, REPO

DASHBOARD = DEPLOY / "grafana" / "intermission.json"


def _panels(panels: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every panel, those folded inside rows included; rows themselves are not panels."""
    found: list[dict[str, object]] = []
    for panel in panels:
        inner = panel.get("panels", [])
        assert isinstance(inner, list)
        found += _panels(inner) if panel.get("type") == "row" else [panel]
    return found


def test_the_readme_counts_the_dashboards_panels() -> None:
    readme = " ".join(REPO.joinpath("README.md").read_text().split())
    [count] = re.findall(r"`deploy/grafana/intermission\.json`, (\d+) panels", readme)
    panels = _panels(json.loads(DASHBOARD.read_text())["panels"])
    assert int(count) == len(panels), [p.get("title") for p in panels]
