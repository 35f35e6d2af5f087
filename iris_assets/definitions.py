"""The one place that wires assets, resources and executor together."""

import os

import dagster as dg

from iris_assets.assets import (
    fitted_pipeline,
    iris_data,
    iris_df,
    iris_split,
    metrics,
    registered_model,
)
from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource


def _env(name: str) -> dg.EnvVar | None:
    """The variable as an `EnvVar` (the UI shows its name, never its value), or None when unset."""
    return dg.EnvVar(name) if os.environ.get(name) else None


defs = dg.Definitions(
    assets=[iris_data, iris_df, iris_split, fitted_pipeline, metrics, registered_model],
    resources={
        "postgres": PostgresResource(database_url=_env("IRIS_DATABASE_URL")),
        "mlflow": MLflowResource(
            tracking_uri=_env("MLFLOW_TRACKING_URI"),
            s3_endpoint_url=_env("MLFLOW_S3_ENDPOINT_URL"),
            aws_access_key_id=_env("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=_env("AWS_SECRET_ACCESS_KEY"),
        ),
    },
    # Steps share one process: the multiprocess default re-imports this module for every step.
    executor=dg.in_process_executor,
)
