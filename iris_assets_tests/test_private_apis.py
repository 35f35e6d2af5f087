"""The private Dagster, MLflow and pandas APIs the project leans on, each where a comment says
why: these fail loudly, naming the piece, when an upgrade moves or changes one."""

import inspect
import pickle

import dagster as dg
import pandas as pd

from iris_assets import frame_lineage


def test_mlflow_s3_client_cache_can_be_forgotten() -> None:
    """_mlflow_state clears MLflow's cached boto3 clients between materializations."""
    from mlflow.store.artifact.s3_artifact_repo import _cached_get_s3_client

    assert callable(_cached_get_s3_client.cache_clear)


def test_dagster_pickled_filesystem_io_manager_finds_its_paths() -> None:
    """io_managers subclasses it to name a value no run stored; s3_values asks for its path."""
    from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager
    from dagster._core.storage.upath_io_manager import UPathIOManager

    assert issubclass(PickledObjectFilesystemIOManager, UPathIOManager)
    assert "context" in inspect.signature(PickledObjectFilesystemIOManager._get_path).parameters


def test_an_input_context_reaches_its_step() -> None:
    """io_managers asks the step which assets it makes, to name the selection that fixes it."""
    assert isinstance(inspect.getattr_static(dg.InputContext, "step_context"), property)


def test_dagster_local_storage_classes_take_a_base_dir() -> None:
    """local_instance builds Dagster's own storage classes on a directory under IRIS_HOME."""
    from dagster._core.storage.local_compute_log_manager import LocalComputeLogManager
    from dagster._core.storage.root import LocalArtifactStorage
    from dagster._core.storage.sqlite_storage import DagsterSqliteStorage

    assert {"base_dir", "inst_data"} <= set(
        inspect.signature(DagsterSqliteStorage.from_local).parameters
    )
    for cls in (LocalArtifactStorage, LocalComputeLogManager):
        assert {"base_dir", "inst_data"} <= set(inspect.signature(cls).parameters)


def test_dagster_keeps_daemon_heartbeats_in_their_table() -> None:
    """healthcheck reads the daemon's last heartbeat from Dagster's storage by SQL."""
    from dagster._core.storage.runs.schema import DaemonHeartbeatsTable

    assert DaemonHeartbeatsTable.name == "daemon_heartbeats"
    assert {"daemon_type", "timestamp"} <= {column.name for column in DaemonHeartbeatsTable.c}


def test_a_frame_keeps_its_lineage_through_slicing_and_pickling() -> None:
    """frame_lineage carries source and split in DataFrame.attrs, experimental in pandas."""
    frame = frame_lineage.with_source(pd.DataFrame({"a": [1, 2, 3]}), "postgresql://db", "t", "q")
    frame = frame_lineage.with_split(frame.iloc[:2], {"train_size": 0.8})
    restored = pickle.loads(pickle.dumps(frame))
    assert frame_lineage.source_of(restored) == {
        "database": "postgresql://db",
        "table": "t",
        "query": "q",
    }
    assert frame_lineage.split_of(restored) == {"train_size": 0.8}
