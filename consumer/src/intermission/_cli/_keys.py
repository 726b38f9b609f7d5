"""`intermission keys new`: a fresh key line for a ring (seal keys, resume token secrets, answer
keys), to put first in its variable when rotating (README: "Rotating keys")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ..service.runs.keyring import new_key_line
from ._common import EXIT_USAGE, fail

keys_app = typer.Typer(help="Make keys for the key rings (see README: Rotating keys).", no_args_is_help=True)


@keys_app.command("new")
def new(
    key_id: Annotated[
        str | None, typer.Argument(help="The new key's id (default: k<YYYYMMDDHHMM>, UTC now).")
    ] = None,
) -> None:
    """Print `key_id=secret` (32 random bytes): put it first in INTERMISSION_SEAL_KEYS (or
    _RESUME_TOKEN_SECRETS, _ANSWER_KEYS), keeping the old keys after it until they retire."""
    name = key_id or datetime.now(UTC).strftime("k%Y%m%d%H%M")
    try:
        line = new_key_line(name)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    # Plain print: a rich console could wrap or style the secret.
    print(line)
