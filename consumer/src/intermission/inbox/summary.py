"""A paused call as a person reads it: each input field by its schema's title, enums and
formats as they are, and money in dollars where the schema says the integer is cents.

The money rule: an integer field whose title or description says "cents" is shown as dollars
with the cents beside it ("$1,000.00 (100000 cents)"), so nobody approves 100 times the amount.
Anything the schema does not describe is shown as compact JSON; the raw input is always one
click away (pages.py puts it behind a <details>).
"""

from __future__ import annotations

import json
import re
from html import escape
from typing import Any

__all__ = ["render_summary"]

_MAX_ROWS = 50


def render_summary(value: Any, schema: dict[str, Any] | None) -> str:
    """``value`` as a definition list of its fields (an object), or as one line (anything else)."""
    if not isinstance(value, dict):
        return f'<p class="summary">{escape(_shown(value, schema or {}))}</p>'
    properties = schema.get("properties") if isinstance(schema, dict) else None
    fields = properties if isinstance(properties, dict) else {}
    rows = []
    for key, item in list(value.items())[:_MAX_ROWS]:
        described = fields.get(key)
        sub: dict[str, Any] = described if isinstance(described, dict) else {}
        title = str(sub.get("title") or key)
        if title.lower() == key.lower():  # pydantic's own title of toAccountId: "Toaccountid"
            title = _words(key)
        hint = sub.get("description")
        hint_html = f' <small class="hint">{escape(str(hint))}</small>' if hint else ""
        rows.append(f"<dt>{escape(title)}{hint_html}</dt><dd>{escape(_shown(item, sub))}</dd>")
    return f'<dl class="summary">{"".join(rows)}</dl>'


def _words(key: str) -> str:
    """``toAccountId`` / ``to_account_id`` -> "To account id"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ")
    return spaced[:1].upper() + spaced[1:].lower()


def _says_cents(schema: dict[str, Any]) -> bool:
    words = f"{schema.get('title', '')} {schema.get('description', '')}".lower()
    return "cents" in words


def _shown(value: Any, schema: dict[str, Any]) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, int) and _says_cents(schema):
        return f"${value / 100:,.2f} ({value} cents)"
    if isinstance(value, int | float):
        return f"{value:,}"
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False)
