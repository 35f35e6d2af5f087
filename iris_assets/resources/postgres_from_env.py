"""The database that holds `iris_data`, as IRIS_DATABASE_URL names it, for every process of the
project: the code location and the `iris-assets` CLI.

Apart from `from_env`, which builds the code location's other resources: the CLI (the data
generator) needs neither MLflow nor any of its settings.
"""

import os

import dagster as dg

from iris_assets.resources.postgres import PostgresResource

DATABASE_URL_VARIABLE = "IRIS_DATABASE_URL"


def env_var_if_set(name: str) -> dg.EnvVar | None:
    """The variable as an `EnvVar` (the UI shows its name, never its value), or None when it is
    unset or empty: the resource's own default, the embedded service."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def postgres_from_env(*, resolve: bool = False) -> PostgresResource:
    """The database at IRIS_DATABASE_URL, or the embedded PostgreSQL when it is unset.

    Dagster resolves the `EnvVar` when a run initializes the resource. Outside a run, `resolve`
    puts the variable's value in its place (`process_config_and_initialize()` would too, but it
    makes a throwaway Dagster instance to do so).
    """
    url = env_var_if_set(DATABASE_URL_VARIABLE)
    return PostgresResource(database_url=url.get_value() if resolve and url else url)
