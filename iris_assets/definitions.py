"""The one place that wires assets, resources and executor together."""

import os

import dagster as dg

from iris_assets import _startup

_startup.hide_dagster_beta_notices()

with _startup.heavy_imports():
    from iris_assets.assets import (
        champion_model,
        fitted_pipeline,
        iris_data,
        iris_df,
        iris_predictions,
        iris_split,
        metrics,
        registered_model,
    )
    from iris_assets.automation import build_new_rows_sensor, retrain_job, retrain_schedule
    from iris_assets.checks import (
        iris_df_has_every_class,
        iris_df_is_trainable,
        live_accuracy_holds,
        new_version_predicts,
        valid_acc_floor,
    )
    from iris_assets.resources.io_managers import LocalValuesIOManager
    from iris_assets.resources.mlflow import MLflowResource
    from iris_assets.resources.postgres import PostgresResource

RETRAIN_MIN_NEW_ROWS = int(os.environ.get("IRIS_RETRAIN_MIN_NEW_ROWS") or 100)
"""New rows that make the sensor retrain: by default a whole new training window (`limit`)."""


def _env(name: str) -> dg.EnvVar | None:
    """The variable as an `EnvVar` (the UI shows its name, never its value), or None when unset."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def _values_io_manager() -> dg.ConfigurableIOManagerFactory | dg.ConfigurableIOManager:
    """Where the assets hand each other values: S3 where IRIS_IO_S3_URI says so (with the S3
    endpoint and keys MLflow's clients use), so that runs share no disk; else the instance's."""
    location = os.environ.get("IRIS_IO_S3_URI")
    if not location:
        return LocalValuesIOManager()
    from dagster_aws.s3 import S3Resource

    from iris_assets.resources.s3_values import S3ValuesIOManager, bucket_and_prefix

    bucket, prefix = bucket_and_prefix(location)
    return S3ValuesIOManager(
        s3_resource=S3Resource(
            endpoint_url=_env("MLFLOW_S3_ENDPOINT_URL"),
            aws_access_key_id=_env("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=_env("AWS_SECRET_ACCESS_KEY"),
        ),
        s3_bucket=bucket,
        s3_prefix=prefix,
    )


defs = dg.Definitions(
    assets=[
        iris_data,
        iris_df,
        iris_split,
        fitted_pipeline,
        metrics,
        registered_model,
        champion_model,
        iris_predictions,
    ],
    asset_checks=[
        iris_df_is_trainable,
        iris_df_has_every_class,
        valid_acc_floor,
        new_version_predicts,
        live_accuracy_holds,
    ],
    jobs=[retrain_job],
    sensors=[build_new_rows_sensor(RETRAIN_MIN_NEW_ROWS)],
    schedules=[retrain_schedule],
    resources={
        "io_manager": _values_io_manager(),
        "postgres": PostgresResource(database_url=_env("IRIS_DATABASE_URL")),
        "mlflow": MLflowResource(
            tracking_uri=_env("MLFLOW_TRACKING_URI"),
            s3_endpoint_url=_env("MLFLOW_S3_ENDPOINT_URL"),
            aws_access_key_id=_env("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=_env("AWS_SECRET_ACCESS_KEY"),
            ui_base_url=_env("IRIS_MLFLOW_UI_URL"),
            dagster_ui_url=_env("IRIS_DAGSTER_UI_URL"),
        ),
    },
    # Steps share one process: the multiprocess default re-imports this module for every step.
    executor=dg.in_process_executor,
)

_startup.freeze()
