"""The databases the project's PostgreSQL settings name, for every process of the project: the
one that holds `iris_data` (IRIS_DATABASE_URL) for the code location and the `iris-assets`
commands, and the one that receives `iris_prediction` (IRIS_PREDICTIONS_DATABASE_URL).

Apart from `from_env`, which builds the code location's other resources: the data generator needs
neither MLflow nor its import time.
"""

import dagster as dg

from iris_assets import settings
from iris_assets.resources.postgres import PostgresResource


def postgres_from_env(
    resolved: dict[str, settings.Resolved] | None = None, *, resolve: bool = False
) -> PostgresResource:
    """The database at IRIS_DATABASE_URL, or the embedded PostgreSQL when it is unset.

    Dagster resolves the `EnvVar` when a run initializes the resource. Outside a run (the
    `iris-assets` commands), `resolve` puts the value itself in its place.
    """
    setting = (resolved or settings.apply())[settings.DATABASE_URL.name]
    url = setting.value if resolve else env_var(setting)
    return PostgresResource(database_url=url, origins={"database_url": setting.origin})


def predictions_postgres_from_env(resolved: dict[str, settings.Resolved]) -> PostgresResource:
    """The database at IRIS_PREDICTIONS_DATABASE_URL; unset, the database of iris_data.

    Its own setting, so that a user who may only read iris_data, or iris_data as a view, still
    gets predictions somewhere it may write. Its origin says which variable chose the database,
    so that every message about it names the one to change.
    """
    own = resolved[settings.PREDICTIONS_DATABASE_URL.name]
    if own.value is not None:
        return PostgresResource(database_url=env_var(own), origins={"database_url": own.origin})
    source = resolved[settings.DATABASE_URL.name]
    origin = (
        f"{source.origin}, as {own.setting.name} is unset"
        if source.value is not None
        else f"{own.setting.name} and {source.setting.name} unset"
    )
    return PostgresResource(database_url=env_var(source), origins={"database_url": origin})


def env_var(setting: settings.Resolved) -> dg.EnvVar | None:
    """The variable as an `EnvVar` (the UI shows its name, never its value), or None when it is
    unset: the resource's own default, the embedded service."""
    return dg.EnvVar(setting.setting.name) if setting.value is not None else None
