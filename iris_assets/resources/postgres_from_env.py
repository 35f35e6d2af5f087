"""The database that holds `iris_data`, as IRIS_DATABASE_URL names it, for every process of the
project: the code location and the `iris-assets` commands.

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


def env_var(setting: settings.Resolved) -> dg.EnvVar | None:
    """The variable as an `EnvVar` (the UI shows its name, never its value), or None when it is
    unset: the resource's own default, the embedded service."""
    return dg.EnvVar(setting.setting.name) if setting.value is not None else None
