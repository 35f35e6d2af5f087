"""The code location's resources, each setting from the variable that names it in this project
(iris_assets.settings resolves them); unset variables leave a resource on its embedded default."""

from urllib.parse import urlsplit

import dagster as dg

from iris_assets import settings
from iris_assets.resources.io_managers import LocalValuesIOManager
from iris_assets.resources.postgres_from_env import (
    env_var,
    postgres_from_env,
    predictions_postgres_from_env,
)
from iris_assets.resources.registry import ModelRegistry

_MLFLOW_FIELDS = {
    "tracking_uri": settings.TRACKING_URI,
    "s3_endpoint_url": settings.S3_ENDPOINT_URL,
    "aws_access_key_id": settings.AWS_ACCESS_KEY_ID,
    "aws_secret_access_key": settings.AWS_SECRET_ACCESS_KEY,
    "ui_base_url": settings.MLFLOW_UI_URL,
    "dagster_ui_url": settings.DAGSTER_UI_URL,
}
"""The registry resource's fields and the settings that fill them."""
_S3_FIELDS = {
    "endpoint_url": settings.S3_ENDPOINT_URL,
    "aws_access_key_id": settings.AWS_ACCESS_KEY_ID,
    "aws_secret_access_key": settings.AWS_SECRET_ACCESS_KEY,
}
"""The S3 resource's fields under asset values in S3, and the settings that fill them."""


def resources_from_env() -> dict[str, dg.ConfigurableResource | dg.ConfigurableIOManagerFactory]:
    """The resources the assets, checks and sensor ask for, by the keys they ask with."""
    resolved = settings.apply()
    return {
        "io_manager": _values_io_manager(resolved),
        "postgres": postgres_from_env(resolved),
        "predictions_postgres": predictions_postgres_from_env(resolved),
        "registry": ModelRegistry(
            **{field: env_var(resolved[s.name]) for field, s in _MLFLOW_FIELDS.items()},
            origins={field: resolved[s.name].origin for field, s in _MLFLOW_FIELDS.items()},
        ),
    }


def _values_io_manager(
    resolved: dict[str, settings.Resolved],
) -> dg.ConfigurableIOManagerFactory:
    """Where the assets hand each other values: S3 where IRIS_IO_S3_URI says so (with the S3
    endpoint and keys MLflow's clients use), so that runs share no disk; else the instance's."""
    location = resolved[settings.IO_S3_URI.name]
    if location.value is None:
        return LocalValuesIOManager()
    # Only S3 deployments import dagster-aws (s3_values says why).
    from dagster_aws.s3 import S3Resource

    from iris_assets.resources.s3_values import S3ValuesIOManager

    bucket, prefix = _bucket_and_prefix(location)
    return S3ValuesIOManager(
        s3_resource=S3Resource(
            **{field: env_var(resolved[s.name]) for field, s in _S3_FIELDS.items()}
        ),
        s3_bucket=bucket,
        s3_prefix=prefix,
        origins={
            "s3_bucket": location.origin,
            **{field: resolved[s.name].origin for field, s in _S3_FIELDS.items()},
        },
    )


def _bucket_and_prefix(location: settings.Resolved) -> tuple[str, str]:
    """`s3://bucket/some/prefix` as ('bucket', 'some/prefix'); anything else is refused."""
    parts = urlsplit(location.value or "")
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(
            f"{location.setting.name} must look like s3://<bucket>/<prefix>, not "
            f"{location.value!r} ({location.origin}): it says where the assets keep the values "
            "they hand each other."
        )
    return parts.netloc, parts.path.strip("/")
