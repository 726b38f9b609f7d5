"""`intermission keys new`: a fresh key line for a ring (seal keys, resume token secrets, answer
keys); `intermission keys reseal`: the bucket resealed with the current seal key, before an old
one is retired (README: "Rotating keys")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from ..service.runs.keyring import new_key_line
from ._common import EXIT_USAGE, console, fail
from ._runs import Bucket, Endpoint, Prefix, store_settings, with_store

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


@keys_app.command("reseal")
def reseal(bucket: Bucket = None, prefix: Prefix = None, s3_endpoint_url: Endpoint = None) -> None:
    """Rewrite every stored object not sealed by the current seal key (the first of
    INTERMISSION_SEAL_KEYS) under it, so the old keys can be retired. Safe while workers run;
    objects that fail their seal are listed and left alone (exit 1)."""
    from ..service.runs.reseal import reseal as reseal_store

    settings = store_settings(bucket, prefix, s3_endpoint_url)

    async def work(store: Any, sealer: Any) -> Any:
        sealer.compression = settings.snapshot_compression
        return await reseal_store(store, sealer)

    report = with_store(settings, work)
    console.print(
        f"resealed {report.resealed}, already current {report.current}, "
        f"without a seal {report.unsealed}, refused {len(report.refused)}"
    )
    if report.refused:
        fail(
            f"objects that fail their seal (tampered, or sealed with a key not in the ring): {report.refused}"
        )
