"""`intermission bucket create`: the snapshot bucket, for S3-compatible servers and local use."""

from __future__ import annotations

import asyncio

import typer

from ..errors import StoreUnavailableError
from ._common import S3EndpointUrl, SnapshotBucket, console, fail, load_settings, usage_errors

bucket_app = typer.Typer(help="Manage Intermission's S3 bucket.", no_args_is_help=True)


@bucket_app.command("create")
def bucket_create(
    bucket: SnapshotBucket = None,
    s3_endpoint_url: S3EndpointUrl = None,
) -> None:
    """Create the bucket if it does not exist (one you already own is left as it is).

    Credentials come from the usual AWS_* variables or the machine's role. Made for
    S3-compatible servers (SeaweedFS, MinIO) and compose files; on AWS, create the bucket with
    your infrastructure tooling, which also sets its region, encryption and lifecycle."""
    from ..service.adapters.s3 import S3SnapshotStore

    with usage_errors():
        settings = load_settings(bucket=bucket, s3_endpoint_url=s3_endpoint_url)
        settings.require("bucket")
    assert settings.bucket is not None
    store = S3SnapshotStore(settings.bucket, endpoint_url=settings.s3_endpoint_url, region=settings.s3_region)
    try:
        with store:
            asyncio.run(store.ensure_bucket())
    except StoreUnavailableError as exc:
        fail(str(exc))
    console.print(f"bucket {settings.bucket} is ready")
