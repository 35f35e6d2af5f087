"""The code location's resources, each setting from the environment variable that names it in this
project; unset variables leave the resource on its embedded default."""

import os
from urllib.parse import urlsplit

import dagster as dg

from iris_assets.resources.io_managers import LocalValuesIOManager
from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres_from_env import env_var_if_set, postgres_from_env

_VALUES_S3_URI_VARIABLE = "IRIS_IO_S3_URI"


def resources_from_env() -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManagerFactory]:
    """The resources the assets, checks and sensor ask for, by the keys they ask with."""
    return {
        "io_manager": _values_io_manager(),
        "postgres": postgres_from_env(),
        "mlflow": MLflowResource(
            tracking_uri=env_var_if_set("MLFLOW_TRACKING_URI"),
            s3_endpoint_url=env_var_if_set("MLFLOW_S3_ENDPOINT_URL"),
            aws_access_key_id=env_var_if_set("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env_var_if_set("AWS_SECRET_ACCESS_KEY"),
            ui_base_url=env_var_if_set("IRIS_MLFLOW_UI_URL"),
            dagster_ui_url=env_var_if_set("IRIS_DAGSTER_UI_URL"),
        ),
    }


def _values_io_manager() -> dg.ConfigurableIOManagerFactory:
    """Where the assets hand each other values: S3 where IRIS_IO_S3_URI says so (with the S3
    endpoint and keys MLflow's clients use), so that runs share no disk; else the instance's."""
    location = os.environ.get(_VALUES_S3_URI_VARIABLE)
    if not location:
        return LocalValuesIOManager()
    # Only S3 deployments import dagster-aws (s3_values says why).
    from dagster_aws.s3 import S3Resource

    from iris_assets.resources.s3_values import S3ValuesIOManager

    bucket, prefix = _bucket_and_prefix(location)
    return S3ValuesIOManager(
        s3_resource=S3Resource(
            endpoint_url=env_var_if_set("MLFLOW_S3_ENDPOINT_URL"),
            aws_access_key_id=env_var_if_set("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env_var_if_set("AWS_SECRET_ACCESS_KEY"),
        ),
        s3_bucket=bucket,
        s3_prefix=prefix,
    )


def _bucket_and_prefix(location: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` as ('bucket', 'some/prefix'); anything else is refused."""
    parts = urlsplit(location)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(
            f"{_VALUES_S3_URI_VARIABLE} must look like s3://<bucket>/<prefix>, not {location!r}: "
            "it says where the assets keep the values they hand each other."
        )
    return parts.netloc, parts.path.strip("/")
