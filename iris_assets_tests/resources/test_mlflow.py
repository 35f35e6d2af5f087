"""MLflowResource: runs in the named experiment, and no MLflow state leaks out of a run."""

import os
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from iris_assets.resources.mlflow import MLflowResource


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow_store') / 'mlflow.db'}"


def test_run_state_does_not_leak(sqlite_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a run, MLflow's tracking URI, active run and S3 variables are as before."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    before = mlflow.get_tracking_uri()
    resource = MLflowResource(tracking_uri=sqlite_uri, s3_endpoint_url="http://127.0.0.1:9")
    with resource.start_run("leak-check", run_name="r", tags={"k": "v"}) as run:
        assert mlflow.get_tracking_uri() == sqlite_uri
        assert os.environ["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:9"
        mlflow.log_metric("m", 1.0)
    assert mlflow.active_run() is None
    assert mlflow.get_tracking_uri() == before
    assert "MLFLOW_S3_ENDPOINT_URL" not in os.environ
    finished = MlflowClient(sqlite_uri).get_run(run.info.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.tags["k"] == "v"
    assert finished.data.metrics == {"m": 1.0}


def test_artifacts_go_through_the_server_unless_the_user_says_otherwise(
    sqlite_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's direct-to-S3 switches are off for a block; a value the user set is kept."""
    download, upload = (
        "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD",
        "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
    )
    monkeypatch.delenv(download, raising=False)
    monkeypatch.setenv(upload, "true")
    with MLflowResource(tracking_uri=sqlite_uri).activated():
        assert (os.environ[download], os.environ[upload]) == ("false", "true")
    assert download not in os.environ


def test_failing_block_ends_the_run_failed(sqlite_uri: str) -> None:
    """A run whose block raises is FAILED, not left RUNNING."""
    resource = MLflowResource(tracking_uri=sqlite_uri)
    with (
        pytest.raises(RuntimeError, match="boom"),
        resource.start_run("fail-check", run_name="r", tags={}) as run,
    ):
        raise RuntimeError("boom")
    assert MlflowClient(sqlite_uri).get_run(run.info.run_id).info.status == "FAILED"


def test_experiment_is_created_once(sqlite_uri: str) -> None:
    """Two runs in one experiment name share one experiment."""
    resource = MLflowResource(tracking_uri=sqlite_uri)
    with resource.start_run("twice", run_name="a", tags={}) as first:
        pass
    with resource.start_run("twice", run_name="b", tags={}) as second:
        pass
    assert first.info.experiment_id == second.info.experiment_id


def test_embedded_store_keeps_artifacts_under_iris_home(embedded_env: Path) -> None:
    """Unconfigured, runs go to $IRIS_HOME/mlflow.db and artifacts to $IRIS_HOME/mlartifacts."""
    resource = MLflowResource()
    assert resource.resolved_tracking_uri() == f"sqlite:///{embedded_env / 'mlflow.db'}"
    with resource.start_run("embedded-check", run_name="r", tags={}):
        mlflow.log_text("hello", "hello.txt")
        artifact_uri = mlflow.get_artifact_uri()
    assert artifact_uri.startswith((embedded_env / "mlartifacts").as_uri())
    assert list((embedded_env / "mlartifacts").rglob("hello.txt"))


def test_ui_links_only_for_a_server(sqlite_uri: str) -> None:
    """Links into the tracking UI exist only when the tracking URI is a server."""
    assert MLflowResource(tracking_uri=sqlite_uri).ui_url("experiments/1") is None
    server = MLflowResource(tracking_uri="http://127.0.0.1:5001/")
    assert server.ui_url("experiments/1") == "http://127.0.0.1:5001/#/experiments/1"


def test_ui_links_go_where_people_open_the_ui() -> None:
    """With IRIS_MLFLOW_UI_URL set, links use it, credentials removed, not the tracking URI."""
    resource = MLflowResource(
        tracking_uri="http://mlflow-server:5000", ui_base_url="http://me:pw@localhost:5001"
    )
    assert resource.ui_url("models/sk_model/versions/3") == (
        "http://localhost:5001/#/models/sk_model/versions/3"
    )


def test_run_on_a_real_server_stores_artifacts_in_s3(mlflow_server: str, s3_client) -> None:
    """Against the tracking server, a run's artifacts land in its S3 bucket."""
    resource = MLflowResource(tracking_uri=mlflow_server)
    with resource.start_run("resource-check", run_name="r", tags={}) as run:
        mlflow.log_text("hello", "probe/hello.txt")
    keys = [
        item["Key"]
        for item in s3_client.list_objects_v2(Bucket="mlflow").get("Contents", [])
        if run.info.run_id in item["Key"]
    ]
    assert any(key.endswith("probe/hello.txt") for key in keys)
    assert MlflowClient(mlflow_server).get_run(run.info.run_id).info.status == "FINISHED"
