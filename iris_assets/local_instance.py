"""The local Dagster instance, under IRIS_HOME with the rest of the local state.

The repository's dagster.yaml names these classes, so `dagster`, `dg` and `dagster dev` run from
the checkout keep runs, event logs, schedules, asset values and step logs in `$IRIS_HOME/dagster`
(default `.iris/dagster`): moving IRIS_HOME moves the instance with the database and the MLflow
store, and a run never pairs values stored under one home with services of another. Dagster's own
classes take a fixed `base_dir`; these read IRIS_HOME in each process that opens the instance.
They subclass Dagster's private storage classes, the only ones that keep SQLite storage on a
directory: test_private_apis fails loudly if an upgrade changes how they are built.
"""

from pathlib import Path
from typing import Any

from dagster import DagsterInstance
from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
from dagster._core.storage.root import LocalArtifactStorage
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes.config_class import ConfigurableClassData

from iris_assets import settings
from iris_assets.console_settings import CONSOLE_SETTINGS, has_console_settings


def instance_directory() -> Path:
    """Where the local instance lives: `$IRIS_HOME/dagster`."""
    return settings.iris_home() / "dagster"


class _NoConfig:
    """The directory comes from IRIS_HOME, so dagster.yaml gives these classes no config."""

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {}


class IrisHomeStorage(_NoConfig, DagsterSqliteStorage):
    """Runs, event logs and schedules in SQLite under `$IRIS_HOME/dagster`."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> "IrisHomeStorage":
        return cls.from_local(base_dir=str(instance_directory()), inst_data=inst_data)


class IrisHomeArtifactStorage(_NoConfig, LocalArtifactStorage):
    """Asset values (the IO manager's `storage/`) under `$IRIS_HOME/dagster`."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> "IrisHomeArtifactStorage":
        return cls(base_dir=str(instance_directory()), inst_data=inst_data)


class IrisHomeComputeLogs(_NoConfig, LocalComputeLogManager):
    """Each step's stdout and stderr under `$IRIS_HOME/dagster/storage`."""

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> "IrisHomeComputeLogs":
        return cls(base_dir=str(instance_directory() / "storage"), inst_data=inst_data)


def instance_location(instance: DagsterInstance) -> str:
    """Where the instance keeps its runs, as a person finds it again (not the temporary directory
    Dagster's CLI opens the local instance from)."""
    dagster_home = settings.resolve()[settings.DAGSTER_HOME.name]
    if dagster_home.value is not None:
        return dagster_home.value
    if not instance.is_ephemeral and _stored_under_iris_home(instance):
        return str(instance_directory())
    return instance.root_directory


def describe_instance(instance: DagsterInstance) -> str:
    """The Dagster instance a run uses and what chose it, for the line a run starts with."""
    dagster_home = settings.resolve()[settings.DAGSTER_HOME.name]
    if dagster_home.value is not None:
        return f"Dagster instance {dagster_home.value} ({dagster_home.origin})"
    if instance.is_ephemeral:
        return "an in-memory Dagster instance (nothing is kept after the process)"
    if _stored_under_iris_home(instance):
        return (
            f"Dagster instance {instance_directory()} ({dagster_home.origin}: the dagster.yaml "
            "of the working directory, under IRIS_HOME)"
        )
    return (
        f"a temporary Dagster instance {instance.root_directory} ({dagster_home.origin} and no "
        "dagster.yaml here: nothing is kept after the command)"
    )


def _stored_under_iris_home(instance: DagsterInstance) -> bool:
    ref = instance.get_ref()
    return ref.storage_data is not None and ref.storage_data.class_name == IrisHomeStorage.__name__


def missing_console_settings(instance: DagsterInstance) -> str | None:
    """Why this instance's runs print Dagster's DEBUG events, stack traces and no closing line,
    or None.

    The console's level and its handlers are instance configuration in Dagster: an instance of
    one's own (DAGSTER_HOME) lacks them unless its dagster.yaml has the lines.
    """
    if has_console_settings(instance.get_settings("python_logs")):
        return None
    where = instance.root_directory if not instance.is_ephemeral else "this instance"
    return (
        f"The dagster.yaml of {where} lacks the project's console settings, so this run prints "
        "Dagster's DEBUG events, whole stack traces and no closing line. Add these lines to it:\n"
        + CONSOLE_SETTINGS
    )
