"""The variables that point the project at a service, and an environment without them.

A test or benchmark decides which services a command uses: whatever the developer's shell points
at (a stack of their own, a production tracking server) must not leak in. This is the one list;
a variable the code newly reads to find a service is added here, and every filter follows.
"""

import os
from collections.abc import Mapping

SERVICE_VARIABLES = (
    # PostgreSQL with iris_data, and where the embedded services keep their state.
    "IRIS_DATABASE_URL",
    "IRIS_HOME",
    # Where iris_prediction goes, when not into the database of iris_data.
    "IRIS_PREDICTIONS_DATABASE_URL",
    # Asset values in S3 instead of the Dagster instance's directory.
    "IRIS_IO_S3_URI",
    # MLflow's and boto's own names for the tracking server and the S3 store behind it.
    "MLFLOW_TRACKING_URI",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    # The UIs that links in Dagster's metadata and MLflow's runs point at.
    "IRIS_MLFLOW_UI_URL",
    "IRIS_DAGSTER_UI_URL",
    # The Dagster instance, and the PostgreSQL that the deployments' instance config stores in.
    "DAGSTER_HOME",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_USER",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_DB",
)


def environ_without_services(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`environ` (this process's by default) without any variable that points at a service."""
    return {name: value for name, value in environ.items() if name not in SERVICE_VARIABLES}
