"""What the S3 bucket behind MLflow holds for a registered model version."""

from pathlib import Path

from mlflow.entities.model_registry import ModelVersion

from iris_assets_tests.conftest import S3_BUCKET

MODEL_FILES = frozenset(
    {
        "MLmodel",
        "model.skops",
        "conda.yaml",
        "python_env.yaml",
        "requirements.txt",
        "input_example.json",
    }
)
"""The files of a logged model that loading, serving and rebuilding its environment need."""


def keys(s3_client, bucket: str = S3_BUCKET) -> list[str]:
    """Every object key in the bucket."""
    pages = s3_client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def model_files(s3_client, version: ModelVersion, bucket: str = S3_BUCKET) -> set[str]:
    """Names of the files stored for the logged model behind `version`."""
    model_id = version.source.removeprefix("models:/")
    return {
        Path(key).name for key in keys(s3_client, bucket) if f"/models/{model_id}/artifacts/" in key
    }
