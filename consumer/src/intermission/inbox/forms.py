"""HTML form fields generated from a JSON Schema, read back into JSON by ``inbox.js``.

Each field is an element with ``data-kind`` (string, number, integer, boolean, enum, object,
array, json) and, inside an object, ``data-key``; ``data-required`` and ``data-nullable`` say
what an empty input means. The page's script walks these elements to build the JSON value and
reports the first problem per field; the server then checks the value again against the same
schema with the producer SDK's check. What the generator does not know (``oneOf`` of objects,
``additionalProperties`` maps, ...) becomes a JSON text area, checked the same way.

Schemas come from events on the topics, so every page render is bounded: a schema beyond
``intermission_schemas.SchemaLimits`` (a ``$ref`` chain that doubles at each step, a ``$ref``
to itself) or a form that would grow past ``_MAX_FIELDS`` fields or ``_MAX_TEXT`` characters
is shown as one JSON text area with a note saying why, and the rest of the page renders as
usual. A ``$ref`` back into a definition being rendered (a tree) becomes a JSON text area at
that point.
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from html import escape
from typing import Any

import msgspec
from intermission_schemas import schema_problem
from intermission_schemas._bounds import resolve_ref

__all__ = ["offered_choices", "render_choice_field", "render_form_fields"]

_SCALARS = {"string", "number", "integer", "boolean"}
# More fields than anyone fills in, and a page of a few megabytes at most per form.
_MAX_FIELDS = 1_000
_MAX_TEXT = 4_000_000


class _Unrenderable(Exception):
    pass


_decode_schema = msgspec.json.Decoder(dict[str, Any])


@lru_cache(maxsize=256)
def _problem(encoded: bytes) -> str | None:
    # Every page render shows every pending card: the same few schemas, walked once each.
    return schema_problem(_decode_schema.decode(encoded))


def render_form_fields(schema: dict[str, Any] | None, value: Any = None) -> str:
    """The fields of a value of ``schema``, pre-filled with ``value`` when given."""
    if schema is None:
        return _json_field({}, value, None)
    if not isinstance(schema, dict):
        problem: str | None = "the schema is not an object"
    else:
        problem = _problem(msgspec.json.encode(schema))
    if problem is None:
        try:
            return _Form(schema).field(schema, value, key=None, required=True)
        except _Unrenderable as exc:
            problem = str(exc)
    return (
        f'<p class="form-note" role="note">This form cannot be shown ({escape(problem)}); '
        "answer with JSON.</p>" + _json_field({}, value, None)
    )


def _nullable(schema: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """``X | None`` as pydantic writes it (anyOf with a null branch) -> (X, True)."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and all(isinstance(o, dict) for o in options):
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


_ids = itertools.count()


def _control_id() -> str:
    """An id no other control of the page has (cards are rendered one by one), for its label."""
    return f"field-{next(_ids)}"


def _label(schema: dict[str, Any], key: str | None, required: bool, control: str | None = None) -> str:
    target = f' for="{control}"' if control else ""
    if key is None:  # the whole value (or an array item): named by its schema's title
        title = schema.get("title") or "Value"
        return f'<label class="label"{target}>{escape(str(title))}</label>' if control else ""
    title = str(schema.get("title") or key)
    named = (
        f"<code>{escape(key)}</code>"
        if title.lower() == key.lower()
        else f"{escape(title)} <code>{escape(key)}</code>"
    )
    mark = ' <span class="req" title="required">*</span>' if required else ""
    hint = schema.get("description")
    hint_html = f' <small class="hint">{escape(str(hint))}</small>' if hint else ""
    return f'<label class="label"{target}>{named}{mark}{hint_html}</label>'


class _Form:
    """One form's rendering, with its budget and the definitions being expanded."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.fields = 0
        self.text = 0
        self.expanding: set[int] = set()

    def _spend(self, html: str) -> str:
        """Count one field of ``html``'s own text (its children are counted on their own)."""
        self.fields += 1
        self.text += len(html)
        if self.fields > _MAX_FIELDS:
            raise _Unrenderable(f"more than {_MAX_FIELDS} fields")
        if self.text > _MAX_TEXT:
            raise _Unrenderable(f"more than {_MAX_TEXT} characters")
        return html

    def field(self, schema: Any, value: Any, *, key: str | None, required: bool) -> str:
        if not isinstance(schema, dict):
            return self._spend(_json_field({}, value, key, required=required))
        ref = schema.get("$ref")
        target = resolve_ref(self.root, ref) if isinstance(ref, str) else None
        if not isinstance(target, dict):
            return self._field(schema, value, key=key, required=required)
        if id(target) in self.expanding:  # a tree: its deeper levels are answered as JSON
            return self._spend(_json_field(schema, value, key, required=required))
        self.expanding.add(id(target))
        try:
            merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            return self._field(merged, value, key=key, required=required)
        finally:
            self.expanding.discard(id(target))

    def _field(self, schema: dict[str, Any], value: Any, *, key: str | None, required: bool) -> str:
        schema, nullable = _nullable(schema)
        if value is None and "default" in schema:
            value = schema["default"]
        kind = schema.get("type")
        if isinstance(schema.get("enum"), list) or "const" in schema:
            return self._spend(_enum_field(schema, value, key, required, nullable))
        if kind == "object" and isinstance(schema.get("properties"), dict):
            return self._object_field(schema, value, key, required, nullable)
        if kind == "array" and isinstance(schema.get("items"), dict):
            return self._array_field(schema, value, key, required, nullable)
        if isinstance(kind, str) and kind in _SCALARS:
            return self._spend(_scalar_field(schema, kind, value, key, required, nullable))
        return self._spend(_json_field(schema, value, key, required=required))

    def _object_field(
        self, schema: dict[str, Any], value: Any, key: str | None, required: bool, nullable: bool
    ) -> str:
        listed = schema.get("required")
        needed = {n for n in listed if isinstance(n, str)} if isinstance(listed, list) else set()
        current = value if isinstance(value, dict) else {}
        children = "".join(
            self.field(sub, current.get(name), key=name, required=name in needed)
            for name, sub in schema["properties"].items()
        )
        legend = self._spend(f"<legend>{escape(str(schema.get('title') or key or 'value'))}</legend>")
        return (
            f"<fieldset {_attrs('object', key, required, nullable)}>{legend}{children}"
            '<span class="error" role="alert"></span></fieldset>'
        )

    def _array_field(
        self, schema: dict[str, Any], value: Any, key: str | None, required: bool, nullable: bool
    ) -> str:
        item_schema = schema["items"]
        items = value if isinstance(value, list) else []
        rendered = "".join(
            _array_item(self.field(item_schema, item, key=None, required=True)) for item in items
        )
        template = _array_item(self.field(item_schema, None, key=None, required=True))
        label = self._spend(_label(schema, key, required))
        return (
            f"<div {_attrs('array', key, required, nullable)}>{label}"
            f'<div class="items">{rendered}</div>'
            f"<template>{template}</template>"
            '<button type="button" class="add">+ add</button><span class="error" role="alert"></span></div>'
        )


def _scalar_field(
    schema: dict[str, Any], kind: str, value: Any, key: str | None, required: bool, nullable: bool
) -> str:
    ident = _control_id()
    label = _label(schema, key, required, ident)
    if kind == "boolean":
        checked = " checked" if value is True else ""
        control = f'<input type="checkbox" class="input" id="{ident}"{checked}>'
    else:
        shown = "" if value is None else escape(str(value))
        longest = schema.get("maxLength")
        if kind == "string" and isinstance(longest, int | float) and longest > 200:
            control = f'<textarea class="input" id="{ident}" rows="3">{shown}</textarea>'
        else:
            mode = ' inputmode="decimal"' if kind in {"number", "integer"} else ""
            control = f'<input type="text" class="input" id="{ident}" value="{shown}"{mode}>'
    # The one rule for blank text is the schema's own minLength, which the SDK's and the
    # worker's checks apply too: the page refuses what they would refuse, before sending.
    shortest = schema.get("minLength")
    least = f' data-min-length="{int(shortest)}"' if kind == "string" and isinstance(shortest, int) else ""
    return (
        f"<div {_attrs(kind, key, required, nullable)}{least}>{label}{control}"
        '<span class="error" role="alert"></span></div>'
    )


def _enum_field(schema: dict[str, Any], value: Any, key: str | None, required: bool, nullable: bool) -> str:
    choices = schema["enum"] if isinstance(schema.get("enum"), list) else [schema["const"]]
    options = [] if required and not nullable else ['<option value="">(none)</option>']
    for choice in choices:
        encoded = escape(json.dumps(choice))
        selected = " selected" if choice == value else ""
        options.append(f'<option value="{encoded}"{selected}>{escape(str(choice))}</option>')
    ident = _control_id()
    return (
        f"<div {_attrs('enum', key, required, nullable)}>{_label(schema, key, required, ident)}"
        f'<select class="input" id="{ident}">{"".join(options)}</select>'
        '<span class="error" role="alert"></span></div>'
    )


def _array_item(inner: str) -> str:
    return f'<div class="item">{inner}<button type="button" class="remove">remove</button></div>'


def _json_field(schema: dict[str, Any], value: Any, key: str | None, *, required: bool = True) -> str:
    shown = "" if value is None else escape(json.dumps(value, indent=1))
    ident = _control_id()
    return (
        f"<div {_attrs('json', key, required, False)}>{_label(schema, key, required, ident)}"
        f'<textarea class="input" id="{ident}" rows="3" placeholder="JSON">{shown}</textarea>'
        '<span class="error" role="alert"></span></div>'
    )


def offered_choices(tool_input: Any, output_schema: Any) -> tuple[list[str], bool] | None:
    """The seed's askQuestion convention: an input ``{"choices": [...], "allowOther": bool}`` for
    a text answer. The choices, and whether a write-in is allowed, when the call follows it."""
    if not isinstance(tool_input, dict) or not isinstance(output_schema, dict):
        return None
    choices = tool_input.get("choices")
    if output_schema.get("type") != "string" or not isinstance(choices, list) or not choices:
        return None
    if not all(isinstance(c, str) for c in choices):
        return None
    return choices, tool_input.get("allowOther") is True


def render_choice_field(name: str, choices: list[str], allow_other: bool, schema: dict[str, Any]) -> str:
    """The choices as radio buttons (``name`` groups them), and a write-in when allowed."""
    options = "".join(
        f'<label class="choice"><input type="radio" name="{escape(name)}" value="{escape(c)}"> '
        f"{escape(c)}</label>"
        for c in choices
    )
    if allow_other:
        options += (
            f'<label class="choice"><input type="radio" name="{escape(name)}" value="" class="other-pick"> '
            'Other</label><label class="label">Your own answer <input type="text" class="other"></label>'
        )
    shortest = schema.get("minLength")
    least = f' data-min-length="{int(shortest)}"' if isinstance(shortest, int) else ""
    title = escape(str(schema.get("title") or "Answer"))
    return (
        f"<fieldset {_attrs('choice', None, True, False)}{least}><legend>{title}</legend>{options}"
        '<span class="error" role="alert"></span></fieldset>'
    )
