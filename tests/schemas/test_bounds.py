"""Bounds on what a request carries: the schema walker's budget, replyTo's grammar and allow-list,
the expiry's range, and the worker's decoder refusing each with a typed reason."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hostile import doubling
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from intermission.inbox.forms import render_form_fields
from intermission_schemas import (
    MAX_EXPIRY_SECONDS,
    EventDecodeError,
    SchemaLimits,
    Topics,
    all_json_schemas,
    decode_request,
    reply_topic_problem,
    schema_problem,
)
from intermission_schemas import _bounds as bounds

SELF_REFERENCES = [
    {"$ref": "#"},
    {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/A"}}},
    {"$ref": "#/$defs/A", "$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"allOf": [{"$ref": "#/$defs/A"}]}}},
    {"type": "object", "properties": {"x": {"$ref": "#/properties/x"}}},
]
TREE = {
    "$ref": "#/$defs/Node",
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
        }
    },
}


@pytest.mark.parametrize("schema", SELF_REFERENCES)
def test_a_ref_to_itself_that_describes_no_value_is_refused(schema: dict[str, Any]) -> None:
    problem = schema_problem(schema)
    assert problem is not None
    assert "refers to itself" in problem


def test_recursion_through_a_property_is_a_tree_and_allowed() -> None:
    assert schema_problem(TREE) is None
    assert schema_problem({"type": "object", "properties": {"next": {"$ref": "#"}}}) is None


def test_a_doubling_chain_is_refused_within_the_budget() -> None:
    assert schema_problem(doubling(8)) is None  # 2**8 leaves: a big form, but a finite one
    started = time.perf_counter()
    for levels in (16, 30, 60):
        problem = schema_problem(doubling(levels))
        assert problem is not None
        assert "20000 nodes" in problem or "deeper than" in problem
    assert time.perf_counter() - started < 2.0  # a few ms each; generous for a loaded machine


def test_size_and_depth_limits() -> None:
    big = {"type": "object", "description": "x" * 70_000}
    assert "bytes of JSON" in (schema_problem(big) or "")
    deep: dict[str, Any] = {"type": "string"}
    for _ in range(120):  # a schema built in Python: the wire's 64 levels do not hold it back
        deep = {"type": "array", "items": deep}
    assert "deeper than" in (schema_problem(deep) or "")
    assert schema_problem(deep, SchemaLimits(max_depth=1000)) is None


def test_data_keywords_are_not_followed_as_refs() -> None:
    assert schema_problem({"type": "object", "default": {"$ref": "#"}, "enum": [{"$ref": "#"}]}) is None


def test_every_published_wire_schema_is_within_the_bounds() -> None:
    for name, schema in all_json_schemas().items():
        assert schema_problem(schema) is None, name


# -- replyTo -------------------------------------------------------------------------------

BAD_TOPICS = [".", "..", "__consumer_offsets", "__transaction_state", "a b", "a/b", "", "x" * 250, "ü"]


@pytest.mark.parametrize("topic", BAD_TOPICS)
def test_illegal_or_internal_reply_topics_are_invalid_fields(topic: str) -> None:
    record = json.dumps({"type": "GenerateRequest", "runId": "r", "idempotencyKey": "k", "replyTo": topic})
    with pytest.raises(EventDecodeError) as caught:
        decode_request(record.encode())
    assert caught.value.reason == "invalid_fields"
    assert "replyTo" in caught.value.detail


@pytest.mark.parametrize("topic", ["a", "...", "_x", "team_a.results", "x" * 249, "a-b.c_D9"])
def test_legal_reply_topics_pass(topic: str) -> None:
    record = json.dumps({"type": "GenerateRequest", "runId": "r", "idempotencyKey": "k", "replyTo": topic})
    assert decode_request(record.encode()).reply_to == topic


def test_the_allow_list_and_the_services_own_topics() -> None:
    topics = Topics()
    assert reply_topic_problem("anything.results", topics) is None
    assert reply_topic_problem(topics.results, topics, ["team-*"]) is None
    assert reply_topic_problem("team-a.results", topics, ["team-*"]) is None
    assert "not an allowed" in (reply_topic_problem("other.results", topics, ["team-*"]) or "")
    for own in (topics.requests, topics.resumes, topics.approvals, topics.dead_letter):
        assert "service's own" in (reply_topic_problem(own, topics) or "")


# -- expiry and schemas on the wire --------------------------------------------------------


@pytest.mark.parametrize("seconds", [1e300, MAX_EXPIRY_SECONDS + 1, -1, "1e400"])
def test_expiry_out_of_range_is_invalid_fields(seconds: Any) -> None:
    number = seconds if isinstance(seconds, str) else json.dumps(seconds)
    head = '{"type":"GenerateRequest","runId":"r","idempotencyKey":"k","expiry":{"afterSeconds":'
    record = head + number + "}}"
    with pytest.raises(EventDecodeError) as caught:
        decode_request(record.encode())
    assert caught.value.reason == "invalid_fields"
    assert "afterSeconds" in caught.value.detail


def test_an_inline_interrupts_schema_beyond_the_bounds_is_schema_too_complex() -> None:
    for schema in [*SELF_REFERENCES, doubling(30)]:
        record = {
            "type": "GenerateRequest",
            "runId": "r",
            "idempotencyKey": "k",
            "interrupts": [{"name": "ask", "description": "", "outputSchema": schema}],
        }
        with pytest.raises(EventDecodeError) as caught:
            decode_request(json.dumps(record).encode())
        assert caught.value.reason == "schema_too_complex"
        assert "'ask' outputSchema" in caught.value.detail


# -- properties ----------------------------------------------------------------------------

_names = st.sampled_from(["a", "b", "c", "d"])
_refs = st.one_of(
    st.just("#"),
    _names.map(lambda n: f"#/$defs/{n}"),
    st.sampled_from(["#/properties/x", "#/$defs/a/properties/x", "#/$defs/b/items", "http://e/x", "#/nope"]),
)
_leaf = st.one_of(
    st.fixed_dictionaries({"type": st.sampled_from(["string", "integer", "number", "boolean", "null"])}),
    st.fixed_dictionaries({"$ref": _refs}),
    st.fixed_dictionaries({"enum": st.lists(st.integers() | st.text(max_size=3), min_size=1, max_size=3)}),
    st.just(True),
    st.integers(),
)
_schema = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("object"), "properties": st.dictionaries(st.sampled_from(["x", "y"]), inner)},
            optional={"required": st.lists(st.sampled_from(["x", "y", 1])), "$ref": _refs},
        ),
        st.fixed_dictionaries({"type": st.just("array"), "items": inner}),
        st.fixed_dictionaries({"anyOf": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"allOf": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"$ref": _refs, "description": st.text(max_size=5)}),
    ),
    max_leaves=15,
)
schemas = st.builds(
    lambda root, defs: {**root, "$defs": defs} if isinstance(root, dict) else root,
    _schema,
    st.dictionaries(_names, _schema, max_size=4),
)


class _Counting(bounds._Walk):
    steps = 0

    def _step(self, depth: int) -> None:
        type(self).steps += 1
        super()._step(depth)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, st.integers(min_value=1, max_value=400), st.integers(min_value=2, max_value=40))
def test_no_schema_makes_the_walker_exceed_its_budget(schema: Any, nodes: int, depth: int) -> None:
    limits = SchemaLimits(max_nodes=nodes, max_depth=depth)
    _Counting.steps = 0
    original = bounds._Walk
    bounds._Walk = _Counting  # type: ignore[misc]
    try:
        problem = schema_problem(schema, limits)
    finally:
        bounds._Walk = original  # type: ignore[misc]
    assert _Counting.steps <= nodes + 1  # the step that finds the budget spent is the last one
    assert problem is None or isinstance(problem, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schemas, st.none() | st.dictionaries(st.sampled_from(["x", "y"]), st.lists(st.integers(), max_size=3)))
def test_no_schema_breaks_the_form_renderer_or_grows_it_unbounded(schema: Any, value: Any) -> None:
    html = render_form_fields(schema, value)
    assert 'data-kind="' in html
    assert len(html) < 8_000_000
