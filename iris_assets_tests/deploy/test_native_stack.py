"""Native parity test: the compose file's Dagster services as processes, "Materialize all" by API.

The code server, webserver, daemon, seed job and data generator run with the commands, flags
and variable names of docker-compose.yaml (see conftest.py and _native.py); Dagster's storage is
PostgreSQL through deploy/dagster_home/dagster.yaml; MLflow is a real server on PostgreSQL with
its artifacts in S3 (SeaweedFS).
"""

from pathlib import Path
from typing import Any

import dagster as dg
import psycopg
import pytest
from mlflow.entities.model_registry import ModelVersion

from iris_assets_tests import _bucket
from iris_assets_tests.deploy import _compose
from iris_assets_tests.deploy._native import (
    NativeStack,
    launch_materialize_all,
    registered_version,
    wait_for_run,
)


@pytest.fixture(scope="module")
def run_id(stack: NativeStack) -> str:
    """One "Materialize all" through the webserver's GraphQL API, finished."""
    run_id = launch_materialize_all(stack.webserver_url)
    status = wait_for_run(stack.webserver_url, run_id)
    assert status == "SUCCESS", f"run {run_id} ended {status}; logs in {stack.logs}"
    return run_id


@pytest.fixture(scope="module")
def version(stack: NativeStack, run_id: str) -> ModelVersion:
    """The sk_model version that the run registered."""
    return registered_version(stack.mlflow_url, run_id)


def _event_types(stack: NativeStack, run_id: str) -> set[str]:
    """The kinds of event Dagster stored for the run, read from its PostgreSQL."""
    with psycopg.connect(stack.storage_url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT dagster_event_type FROM event_logs WHERE run_id = %s", (run_id,)
        ).fetchall()
    return {event_type for (event_type,) in rows if event_type}


def test_processes_run_the_compose_commands(stack: NativeStack, compose: dict[str, Any]) -> None:
    """Each process runs its service's compose command, only addresses and paths made local."""
    for name, args in stack.args.items():
        expected = _compose.command(compose["services"][name])
        assert Path(args[0]).name == expected[0]
        assert len(args) == len(expected)
        changed = {a for a, b in zip(args[1:], expected[1:], strict=True) if a != b}
        assert all(
            arg == "127.0.0.1" or arg.isdigit() or arg.startswith(str(stack.dagster_home))
            for arg in changed
        ), f"{name}: {args} differs from {expected} beyond addresses and paths"


def test_run_went_through_the_daemons_queue(stack: NativeStack, run_id: str) -> None:
    """The webserver queued the run; only the daemon launches queued runs, and it did."""
    expected = {
        dg.DagsterEventType.RUN_ENQUEUED.value,
        dg.DagsterEventType.RUN_STARTING.value,
        dg.DagsterEventType.RUN_SUCCESS.value,
    }
    assert expected <= _event_types(stack, run_id)


def test_run_events_are_in_postgresql(stack: NativeStack, run_id: str) -> None:
    """Every asset's materialization is an event row of the run in Dagster's PostgreSQL."""
    with psycopg.connect(stack.storage_url) as conn:
        (status,) = conn.execute("SELECT status FROM runs WHERE run_id = %s", (run_id,)).fetchone()
        keys = {
            key
            for (key,) in conn.execute(
                "SELECT DISTINCT asset_key FROM event_logs "
                "WHERE run_id = %s AND dagster_event_type = %s",
                (run_id, dg.DagsterEventType.ASSET_MATERIALIZATION.value),
            )
        }
    assert status == "SUCCESS"
    expected = {"iris_df", "train_df", "valid_df", "fitted_pipeline", "metrics", "registered_model"}
    assert {dg.AssetKey(name).to_string() for name in expected} <= keys


def test_no_sqlite_storage_under_dagster_home(stack: NativeStack, run_id: str) -> None:
    """No file under DAGSTER_HOME is a SQLite database: runs, events, schedules are elsewhere."""
    sqlite = [
        path
        for path in stack.dagster_home.rglob("*")
        if path.is_file() and path.read_bytes()[:16] == b"SQLite format 3\x00"
    ]
    assert not sqlite


def test_run_registered_a_model_version(version: ModelVersion, run_id: str) -> None:
    """The run's MLflow run registered a new version of sk_model."""
    assert version.name == "sk_model"
    assert version.source.startswith("models:/m-")


def test_model_files_are_in_the_s3_bucket(version: ModelVersion, s3_client: Any) -> None:
    """The MLflow server stored the model's files in the bucket, under the logged model's id."""
    assert _bucket.model_files(s3_client, version) >= _bucket.MODEL_FILES


def test_seed_job_filled_iris_data(stack: NativeStack) -> None:
    """`data-seed` created iris_data and inserted the 150 iris rows the run trained on."""
    with psycopg.connect(stack.iris_database_url) as conn:
        (rows,) = conn.execute("SELECT count(*) FROM iris_data").fetchone()
    assert rows == 150


def test_data_generator_keeps_inserting_rows(stack: NativeStack) -> None:
    """`data-generator` adds rows every second, as in the tutorial."""
    query = "SELECT count(*) FROM iris_data"
    with psycopg.connect(stack.generator_database_url, autocommit=True) as conn:
        (before,) = conn.execute(query).fetchone()
        conn.execute("SELECT pg_sleep(2.5)")
        (after,) = conn.execute(query).fetchone()
    assert after >= before + 2
