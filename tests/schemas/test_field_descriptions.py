"""Every field of every event (and stored document) has a description in the JSON Schemas and
the AsyncAPI document: a new field without one fails the build here."""

from __future__ import annotations

import json
from pathlib import Path

from intermission_schemas import all_json_schemas, asyncapi_document
from intermission_schemas._descriptions import check_descriptions, describe
from intermission_schemas._jsonschema import DOCUMENT_TYPES, schema_components

ROOT = Path(__file__).resolve().parents[2]


def test_every_field_has_a_description() -> None:
    _, components = schema_components(list(DOCUMENT_TYPES.values()))
    assert check_descriptions(components) == []
    assert check_descriptions(asyncapi_document()["components"]["schemas"]) == []


def test_the_exported_files_carry_the_descriptions() -> None:
    for name, schema in all_json_schemas().items():
        committed = json.loads((ROOT / "schemas" / "jsonschema" / f"{name}.json").read_text())
        assert committed == schema, (
            f"regenerate: uv run intermission schemas export schemas/jsonschema ({name})"
        )
    raised = all_json_schemas()["InterruptRaised"]
    assert "resume token" in raised["$defs"]["PendingInterrupt"]["properties"]["token"]["description"]


def test_a_field_without_a_description_is_caught() -> None:
    components = {"Example": {"properties": {"runId": {"type": "string"}, "newField": {"type": "string"}}}}
    assert check_descriptions(describe(components)) == ["Example.newField has no description"]


def test_restart_answer_spells_out_replace_input_versus_replaces_input() -> None:
    restart = all_json_schemas()["ResumeRequested"]["$defs"]["RestartAnswer"]["properties"]
    assert "replacesInput" in restart["replaceInput"]["description"]
    assert "replaceInput is the value" in restart["replacesInput"]["description"]
    assert "ctx.resumed" in restart["resumed"]["description"]
