"""Bounds on what a request may carry, shared by the worker, the producer SDK and the inbox.

A request is read by every worker (and every inbox, each time it rebuilds its view from the
topics), so anything in it that costs work in proportion to something other than its size is
bounded here, once: the JSON Schemas of inline interrupts (a ``$ref`` chain that doubles at each
step describes a 2**n-node form in a few hundred bytes; a ``$ref`` to itself never ends), the
expiry (a timedelta of 1e300 seconds overflows), and where results may be sent (``replyTo``
names a topic the worker writes to on the requester's behalf).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import msgspec

from ._topics import Topics

__all__ = [
    "MAX_EXPIRY_SECONDS",
    "TOPIC_NAME_PATTERN",
    "SchemaLimits",
    "reply_topic_problem",
    "request_schema_problem",
    "schema_problem",
]

# Kafka's topic grammar, less what Kafka itself refuses (".", "..") and its internal topics
# ("__consumer_offsets", "__transaction_state": a name starting with "__").
TOPIC_NAME_PATTERN = r"^(?!\.\.?$)(?!__)[A-Za-z0-9._-]{1,249}$"

# The longest a pause may wait for its answers: ten years. Far beyond any approval and far
# inside what a timestamp holds (1e300 seconds overflowed). Generous on purpose: the bound also
# applies when a stored pause is read back, and one stored with a longer wait must still load.
MAX_EXPIRY_SECONDS = 3653 * 86_400

# Keywords whose schemas describe a value inside the instance (a property, an item, a key):
# a $ref cycle that passes through one of them describes a finite value at every depth.
_DESCENDS = frozenset(
    {
        "properties",
        "patternProperties",
        "additionalProperties",
        "unevaluatedProperties",
        "propertyNames",
        "items",
        "prefixItems",
        "additionalItems",
        "unevaluatedItems",
        "contains",
    }
)
# Keywords whose values are data, not schemas: a "$ref" inside them is not a reference.
_DATA = frozenset({"enum", "const", "default", "examples", "example"})

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    """How big a JSON Schema carried in an event may be.

    ``max_bytes``: its JSON. ``max_nodes``: objects, arrays and values visited with every local
    ``$ref`` expanded where it is used (a ref already being expanded further up is not expanded
    again), the work a form renderer or a validator walking it does. ``max_depth``: nesting,
    counted through those expansions.
    """

    max_bytes: int = 65_536
    max_nodes: int = 20_000
    max_depth: int = 100


DEFAULT_LIMITS = SchemaLimits()


class _TooComplex(Exception):
    pass


def schema_problem(schema: Any, limits: SchemaLimits = DEFAULT_LIMITS) -> str | None:
    """Why ``schema`` is beyond ``limits``, or None. Never costs more than ``limits.max_nodes``
    steps (plus one encoding of the schema, to measure it)."""
    try:
        size = len(_encoder.encode(schema))
    except (TypeError, msgspec.EncodeError, RecursionError):
        return "the schema is not JSON"
    if size > limits.max_bytes:
        return f"the schema is {size} bytes of JSON, over the limit of {limits.max_bytes}"
    try:
        _Walk(schema, limits).schema(schema, 0, 0)
    except _TooComplex as exc:
        return str(exc)
    return None


def request_schema_problem(definitions: Iterable[Any], limits: SchemaLimits = DEFAULT_LIMITS) -> str | None:
    """The first bound broken by an inline interrupt's input or output schema, named."""
    for definition in definitions:
        for field in ("input_schema", "output_schema"):
            schema = getattr(definition, field, None)
            if schema is None:
                continue
            problem = schema_problem(schema, limits)
            if problem is not None:
                camel = "inputSchema" if field == "input_schema" else "outputSchema"
                return f"interrupt {getattr(definition, 'name', '?')!r} {camel}: {problem}"
    return None


class _Walk:
    """One walk of one schema, with its budget. Recursion depth is bounded by ``max_depth``."""

    def __init__(self, root: Any, limits: SchemaLimits) -> None:
        self.root = root
        self.limits = limits
        self.left = limits.max_nodes
        # The targets being expanded (by identity), each with the instance depth it began at.
        self.expanding: dict[int, int] = {id(root): 0}

    def _step(self, depth: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise _TooComplex(
                f"the schema expands to more than {self.limits.max_nodes} nodes once its $refs are followed"
            )
        if depth > self.limits.max_depth:
            raise _TooComplex(f"the schema nests deeper than {self.limits.max_depth} levels")

    def schema(self, node: Any, depth: int, level: int) -> None:
        """``level`` counts the instance levels descended so far (see _DESCENDS)."""
        self._step(depth)
        if isinstance(node, list):
            for item in node:
                self.schema(item, depth + 1, level)
            return
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str):
            self._follow(ref, depth, level)
        for key, value in node.items():
            if key in _DATA:
                self.data(value, depth + 1)
            elif isinstance(value, dict | list):
                self.schema(value, depth + 1, level + 1 if key in _DESCENDS else level)

    def data(self, node: Any, depth: int) -> None:
        self._step(depth)
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            for item in node:
                self.data(item, depth + 1)

    def _follow(self, ref: str, depth: int, level: int) -> None:
        target = resolve_ref(self.root, ref)
        if target is None:
            return  # not local, or dangling: nothing here to expand
        began = self.expanding.get(id(target))
        if began is not None:
            if began == level:
                raise _TooComplex(f"$ref {ref!r} refers to itself without describing any value")
            return  # recursion through a property or item: finite at every depth
        self.expanding[id(target)] = level
        try:
            self.schema(target, depth + 1, level)
        finally:
            del self.expanding[id(target)]


def resolve_ref(root: Any, ref: str) -> Any:
    """The node a local ``$ref`` (``#`` or a ``#/...`` JSON pointer) points at, else None."""
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    node = root
    for token in ref[2:].split("/"):
        key = unquote(token).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return None
    return node


def reply_topic_problem(topic: str, topics: Topics, allowed: Iterable[str] = ()) -> str | None:
    """Why a worker must not publish a run's results to ``topic``, or None.

    ``allowed`` holds shell-style patterns (``team-*.results``); empty allows any legal name.
    The contract's own topics other than results are never a run's reply topic: results there
    would be read as requests, resumes or approvals.
    """
    own: Mapping[str, str] = topics.as_dict()
    if topic != own["results"] and topic in own.values():
        return f"replyTo {topic!r} is one of the service's own topics"
    patterns = list(allowed)
    if topic == own["results"] or not patterns:
        return None
    if any(fnmatch.fnmatchcase(topic, pattern) for pattern in patterns):
        return None
    return f"replyTo {topic!r} is not an allowed reply topic (allowed: {', '.join(patterns)})"
