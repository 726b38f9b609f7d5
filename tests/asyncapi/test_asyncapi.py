"""The AsyncAPI document loads in the official parser (@asyncapi/parser 3.x, from npm) with no
errors, so AsyncAPI Studio and code generators can use it. Node is required: without it the test
fails and says so (never skips). The parser is installed from tests/asyncapi/package-lock.json
on first use (`npm ci`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from intermission_schemas import asyncapi_document

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def validator() -> list[str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed to validate the AsyncAPI document (Node 20+)", pytrace=False)
    if not (HERE / "node_modules" / "@asyncapi" / "parser").exists():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
    return [node, str(HERE / "validate.mjs")]


def _validate(
    validator: list[str], document: dict[str, object], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document))
    return subprocess.run([*validator, str(path)], capture_output=True, text=True, timeout=120)


def test_the_asyncapi_document_has_no_errors(validator: list[str], tmp_path: Path) -> None:
    done = _validate(validator, asyncapi_document(), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("0 error(s)")


def test_the_committed_document_has_no_errors(validator: list[str]) -> None:
    committed = HERE.parents[1] / "schemas" / "jsonschema" / "asyncapi.json"
    done = subprocess.run([*validator, str(committed)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_validator_does_catch_errors(validator: list[str], tmp_path: Path) -> None:
    """An OpenAPI-style discriminator object is what broke the document once: it must fail."""
    document = asyncapi_document()
    document["components"]["schemas"]["RunFailed"]["discriminator"] = {"propertyName": "type"}  # type: ignore[index]
    done = _validate(validator, document, tmp_path)
    assert done.returncode == 1
    assert "error(s)" in done.stdout
