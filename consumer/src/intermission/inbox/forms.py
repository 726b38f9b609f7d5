"""HTML form fields generated from a JSON Schema, read back into JSON by ``inbox.js``.

Each field is an element with ``data-kind`` (string, number, integer, boolean, enum, object,
array, json) and, inside an object, ``data-key``; ``data-required`` and ``data-nullable`` say
what an empty input means. The page's script walks these elements to build the JSON value and
reports the first problem per field; the server then checks the value again against the same
schema with the producer SDK's check. What the generator does not know (``oneOf`` of objects,
``additionalProperties`` maps, ...) becomes a JSON text area, checked the same way.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

__all__ = ["render_form_fields"]

_SCALARS = {"string", "number", "integer", "boolean"}


def render_form_fields(schema: dict[str, Any] | None, value: Any = None) -> str:
    """The fields of a value of ``schema``, pre-filled with ``value`` when given."""
    if schema is None:
        return _json_field({}, value, None)
    return _field(schema, schema.get("$defs", {}), value, key=None, required=True)


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = defs.get(ref.removeprefix("#/$defs/"), {})
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _nullable(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``X | None`` as pydantic writes it (anyOf with a null branch) -> (X, True)."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            others = [o for o in options if o.get("type") != "null"]
            if len(others) == 1 and len(others) < len(options):
                merged = {**others[0], **{k: v for k, v in schema.items() if k != key}}
                return merged, True
    types = schema.get("type")
    if isinstance(types, list) and "null" in types:
        rest = [t for t in types if t != "null"]
        if len(rest) == 1:
            return {**schema, "type": rest[0]}, True
    return schema, False


def _attrs(kind: str, key: str | None, required: bool, nullable: bool) -> str:
    parts = [f'class="field field-{kind}"', f'data-kind="{kind}"']
    if key is not None:
        parts.append(f'data-key="{escape(key)}"')
    if required:
        parts.append('data-required="true"')
    if nullable:
        parts.append('data-nullable="true"')
    return " ".join(parts)


def _label(schema: dict[str, Any], key: str | None, required: bool) -> str:
    if key is None:
        return ""
    title = str(schema.get("title") or key)
    named = (
        f"<code>{escape(key)}</code>"
        if title.lower() == key.lower()
        else f"{escape(title)} <code>{escape(key)}</code>"
    )
    mark = ' <span class="req" title="required">*</span>' if required else ""
    hint = schema.get("description")
    hint_html = f' <small class="hint">{escape(str(hint))}</small>' if hint else ""
    return f'<label class="label">{named}{mark}{hint_html}</label>'


def _field(
    schema: dict[str, Any], defs: dict[str, Any], value: Any, *, key: str | None, required: bool
) -> str:
    schema, nullable = _nullable(_resolve(schema, defs))
    if value is None and "default" in schema:
        value = schema["default"]
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        return _enum_field(schema, value, key, required, nullable)
    if kind == "object" and isinstance(schema.get("properties"), dict):
        return _object_field(schema, defs, value, key, required, nullable)
    if kind == "array" and isinstance(schema.get("items"), dict):
        return _array_field(schema, defs, value, key, required, nullable)
    if isinstance(kind, str) and kind in _SCALARS:
        return _scalar_field(schema, kind, value, key, required, nullable)
    return _json_field(schema, value, key, required=required)


def _scalar_field(
    schema: dict[str, Any], kind: str, value: Any, key: str | None, required: bool, nullable: bool
) -> str:
    label = _label(schema, key, required)
    if kind == "boolean":
        checked = " checked" if value is True else ""
        control = f'<input type="checkbox" class="input"{checked}>'
    else:
        shown = "" if value is None else escape(str(value))
        if kind == "string" and (schema.get("maxLength") or 0) > 200:
            control = f'<textarea class="input" rows="3">{shown}</textarea>'
        else:
            mode = ' inputmode="decimal"' if kind in {"number", "integer"} else ""
            control = f'<input type="text" class="input" value="{shown}"{mode}>'
    return (
        f"<div {_attrs(kind, key, required, nullable)}>{label}{control}"
        '<span class="error" role="alert"></span></div>'
    )


def _enum_field(schema: dict[str, Any], value: Any, key: str | None, required: bool, nullable: bool) -> str:
    choices = schema["enum"] if "enum" in schema else [schema["const"]]
    options = [] if required and not nullable else ['<option value="">(none)</option>']
    for choice in choices:
        encoded = escape(json.dumps(choice))
        selected = " selected" if choice == value else ""
        options.append(f'<option value="{encoded}"{selected}>{escape(str(choice))}</option>')
    return (
        f"<div {_attrs('enum', key, required, nullable)}>{_label(schema, key, required)}"
        f'<select class="input">{"".join(options)}</select><span class="error" role="alert"></span></div>'
    )


def _object_field(
    schema: dict[str, Any],
    defs: dict[str, Any],
    value: Any,
    key: str | None,
    required: bool,
    nullable: bool,
) -> str:
    needed = set(schema.get("required", []))
    current = value if isinstance(value, dict) else {}
    children = "".join(
        _field(sub, defs, current.get(name), key=name, required=name in needed)
        for name, sub in schema["properties"].items()
    )
    legend = f"<legend>{escape(str(schema.get('title') or key or 'value'))}</legend>"
    return (
        f"<fieldset {_attrs('object', key, required, nullable)}>{legend}{children}"
        '<span class="error" role="alert"></span></fieldset>'
    )


def _array_field(
    schema: dict[str, Any],
    defs: dict[str, Any],
    value: Any,
    key: str | None,
    required: bool,
    nullable: bool,
) -> str:
    item_schema = schema["items"]
    items = value if isinstance(value, list) else []
    rendered = "".join(
        _array_item(_field(item_schema, defs, item, key=None, required=True)) for item in items
    )
    template = _array_item(_field(item_schema, defs, None, key=None, required=True))
    return (
        f"<div {_attrs('array', key, required, nullable)}>{_label(schema, key, required)}"
        f'<div class="items">{rendered}</div>'
        f"<template>{template}</template>"
        '<button type="button" class="add">+ add</button><span class="error" role="alert"></span></div>'
    )


def _array_item(inner: str) -> str:
    return f'<div class="item">{inner}<button type="button" class="remove">remove</button></div>'


def _json_field(schema: dict[str, Any], value: Any, key: str | None, *, required: bool = True) -> str:
    shown = "" if value is None else escape(json.dumps(value, indent=1))
    return (
        f"<div {_attrs('json', key, required, False)}>{_label(schema, key, required)}"
        f'<textarea class="input" rows="3" placeholder="JSON">{shown}</textarea>'
        '<span class="error" role="alert"></span></div>'
    )
