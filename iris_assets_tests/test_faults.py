"""Broken services fail the run fast and clean, and the next run after a repair succeeds.

Each test stops (or misconfigures) a real service the suite controls, materializes the graph,
reads the error a user would read, checks that the registry holds nothing half-done, then
repairs the service and materializes again.
"""

import time

import dagster as dg
from mlflow.tracking import MlflowClient

from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource
from iris_assets_tests._graph import failure_text, run_graph
from iris_assets_tests._postgres_cluster import PostgresCluster


def _run(
    database_url: str, tracking_uri: str, model_name: str
) -> tuple[dg.ExecuteInProcessResult, float]:
    started = time.monotonic()
    result = run_graph(
        {
            "postgres": PostgresResource(database_url=database_url),
            "mlflow": MLflowResource(tracking_uri=tracking_uri),
        },
        dg.DagsterInstance.ephemeral(),
        ops={"registered_model": {"model_name": model_name}},
    )
    return result, time.monotonic() - started


def _versions(tracking_uri: str, model_name: str) -> list[str]:
    return [
        v.version for v in MlflowClient(tracking_uri).search_model_versions(f"name='{model_name}'")
    ]


def _attempts(result: dg.ExecuteInProcessResult, step: str) -> int:
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    return 1 + sum(1 for event in restarts if event.step_key == step)


def test_postgres_down_fails_then_recovers(
    password_cluster: PostgresCluster, mlflow_server: str
) -> None:
    """Stopped, the server makes iris_df fail after its retries, named; restarted, all works."""
    password_cluster.stop()
    try:
        result, seconds = _run(password_cluster.url, mlflow_server, "pg_down_model")
    finally:
        password_cluster.start()
    print(
        f"\nPostgreSQL down: failed after {seconds:.1f} s, {_attempts(result, 'iris_df')} attempts"
    )
    assert not result.success
    assert {e.step_key for e in result.get_step_failure_events()} == {"iris_df"}
    text = failure_text(result)
    assert (
        f"Cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:{password_cluster.port}/postgres"
        in text
    )
    assert "check that the server is running" in text
    assert password_cluster.password not in text
    assert _attempts(result, "iris_df") == 3
    assert _versions(mlflow_server, "pg_down_model") == []

    recovered, _ = _run(password_cluster.url, mlflow_server, "pg_down_model")
    assert recovered.success
    assert _versions(mlflow_server, "pg_down_model") == ["1"]


def test_wrong_postgres_password_is_final(
    password_cluster: PostgresCluster, mlflow_server: str
) -> None:
    """Refused credentials fail at once, name the setting to fix, and never show the password."""
    wrong = password_cluster.url.replace(password_cluster.password, "not-the-password-5512")
    result, seconds = _run(wrong, mlflow_server, "pg_password_model")
    print(f"\nwrong PostgreSQL password: failed after {seconds:.1f} s")
    assert not result.success
    text = failure_text(result)
    assert "refused the credentials: check the user and password in IRIS_DATABASE_URL" in text
    assert "not-the-password-5512" not in text and password_cluster.password not in text
    assert _attempts(result, "iris_df") == 1
    assert _versions(mlflow_server, "pg_password_model") == []
