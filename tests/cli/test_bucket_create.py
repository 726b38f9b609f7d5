"""`intermission bucket create`: the compose file's init job and `services up` rely on it."""

from __future__ import annotations

from intermission.cli import app
from intermission.service.local_services import S3Service, unique_bucket_name
from typer.testing import CliRunner


def test_bucket_create_makes_the_bucket_and_accepts_one_it_already_owns(s3_service: S3Service) -> None:
    name = unique_bucket_name("bucket-create")
    env = {
        "INTERMISSION_BUCKET": name,
        "INTERMISSION_S3_ENDPOINT_URL": s3_service.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3_service.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_service.secret_key,
    }
    for _ in range(2):  # the second run finds it there: a re-run job must not fail
        result = CliRunner().invoke(app, ["bucket", "create"], env=env)
        assert result.exit_code == 0, result.output
        assert f"bucket {name} is ready" in result.output
    s3_service.client().head_bucket(Bucket=name)


def test_bucket_create_without_a_bucket_names_the_setting() -> None:
    result = CliRunner().invoke(app, ["bucket", "create"], env={"INTERMISSION_BUCKET": ""})
    assert result.exit_code == 2
    assert "INTERMISSION_BUCKET" in result.output
