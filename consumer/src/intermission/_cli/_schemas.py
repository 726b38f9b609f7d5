"""`intermission schemas export`: the wire contract as files, for integrators in other languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from intermission_schemas import all_json_schemas, asyncapi_document
from rich.table import Table

from ._common import console

schemas_app = typer.Typer(
    help="The JSON Schemas and the AsyncAPI document of the events.", no_args_is_help=True
)


@schemas_app.command("export")
def export(
    directory: Annotated[
        Path, typer.Argument(file_okay=False, help="Where to write <Name>.json and asyncapi.json.")
    ],
) -> None:
    """Write every JSON Schema as DIR/<Name>.json and the AsyncAPI document as DIR/asyncapi.json."""
    directory.mkdir(parents=True, exist_ok=True)
    documents = {**all_json_schemas(), "asyncapi": asyncapi_document()}
    table = Table(title=f"Written to {directory}", title_justify="left")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for name, document in documents.items():
        path = directory / f"{name}.json"
        table.add_row(path.name, str(_write(path, document)))
    console.print(table)


def _write(path: Path, document: dict[str, Any]) -> int:
    # Indented, key order as generated, trailing newline: the folder is committed, so the
    # files must diff well and come out byte-identical from one export to the next.
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return len(text.encode())
