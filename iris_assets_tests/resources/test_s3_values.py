"""Asset values in S3: a bucket that is not there, or keys it refuses, are named at the run's start
with the settings that chose them, on a real S3 store."""

import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource

from iris_assets.resources.s3_values import S3ValuesIOManager
from iris_assets_tests.conftest import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY

ORIGINS = {
    "s3_bucket": "IRIS_IO_S3_URI from .env",
    "endpoint_url": "MLFLOW_S3_ENDPOINT_URL from .env",
    "aws_access_key_id": "AWS_ACCESS_KEY_ID from the environment",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY from the environment",
}


def _values(endpoint: str, bucket: str, secret: str = S3_SECRET_KEY) -> S3ValuesIOManager:
    return S3ValuesIOManager(
        s3_resource=S3Resource(
            endpoint_url=endpoint, aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=secret
        ),
        s3_bucket=bucket,
        s3_prefix="io",
        origins=ORIGINS,
    )


def test_a_missing_bucket_is_named_with_its_setting_and_not_retried(s3_endpoint: str) -> None:
    with pytest.raises(dg.Failure) as failed:
        _values(s3_endpoint, "no-such-bucket-7").check_bucket()
    assert failed.value.description == (
        "The bucket 'no-such-bucket-7' that IRIS_IO_S3_URI from .env names for asset values "
        f"(s3://no-such-bucket-7/io) does not exist in the S3 store at {s3_endpoint} "
        "(MLFLOW_S3_ENDPOINT_URL from .env). Create the bucket, or point IRIS_IO_S3_URI at one "
        "that exists."
    )
    assert not failed.value.allow_retries


def test_refused_keys_name_the_key_settings_and_no_secret(s3_endpoint: str) -> None:
    wrong = "not-the-secret-3141"
    with pytest.raises(dg.Failure) as failed:
        _values(s3_endpoint, S3_BUCKET, secret=wrong).check_bucket()
    description = failed.value.description or ""
    assert f"refused access to the bucket '{S3_BUCKET}'" in description
    assert "AWS_ACCESS_KEY_ID from the environment" in description
    assert wrong not in description and S3_SECRET_KEY not in description
    assert not failed.value.allow_retries


def test_a_bucket_that_exists_passes(s3_endpoint: str) -> None:
    _values(s3_endpoint, S3_BUCKET).check_bucket()
