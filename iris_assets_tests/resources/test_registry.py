"""ModelRegistry: the verbs the assets speak, and no MLflow state leaking out of them."""

import os
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from iris_assets import iris_table
from iris_assets.iris_table import FEATURES, LABEL
from iris_assets.resources.registry import ModelRegistry, RowsSource, TrainingRecord
from iris_assets_tests import _bucket

ROWS = pd.DataFrame(
    [[5.1, 3.5, 1.4, 0.2, 0], [7.0, 3.2, 4.7, 1.4, 1], [6.3, 3.3, 6.0, 2.5, 2]] * 4,
    columns=[*FEATURES, LABEL],
)


class _Broken:
    """An estimator whose predict fails, as a model that cannot be logged."""

    def predict(self, rows: pd.DataFrame) -> None:
        raise RuntimeError("boom")


def _record(experiment: str, model_name: str, model: object | None = None) -> TrainingRecord:
    fitted = Pipeline([("scaler", StandardScaler()), ("svc", SVC())]).fit(
        ROWS[list(FEATURES)], ROWS[LABEL]
    )
    return TrainingRecord(
        experiment=experiment,
        model_name=model_name,
        run_name="r",
        model=model or fitted,
        rows=ROWS,
        source=RowsSource("postgresql://u@db/iris", iris_table.TABLE, "SELECT 1"),
        label=LABEL,
        example=ROWS[list(FEATURES)].iloc[:2],
        params={"rows": len(ROWS)},
        metrics={"train_acc": 1.0, "valid_acc": 1.0},
        texts={"note.txt": "hello"},
        tags={"k": "v"},
        requirements=["scikit-learn"],
        dagster_run_id="dagster-run-1",
        asset_key="registered_model",
        abandoned=lambda owner: False,
    )


@pytest.fixture(scope="module")
def sqlite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow_store') / 'mlflow.db'}"


def test_state_does_not_leak(sqlite_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the registry's work, MLflow's tracking URI, active run and S3 variables are as
    before."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    before = mlflow.get_tracking_uri()
    registry = ModelRegistry(tracking_uri=sqlite_uri, s3_endpoint_url="http://127.0.0.1:9")
    with registry.within_deadline("probing"):
        assert mlflow.get_tracking_uri() == sqlite_uri
        assert os.environ["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:9"
    registered = ModelRegistry(tracking_uri=sqlite_uri).register(_record("leak", "leak_model"))
    assert mlflow.active_run() is None
    assert mlflow.get_tracking_uri() == before
    assert "MLFLOW_S3_ENDPOINT_URL" not in os.environ
    finished = MlflowClient(sqlite_uri).get_run(registered.version.run_id)
    assert finished.info.status == "FINISHED"
    assert finished.data.tags["k"] == "v"
    assert finished.data.tags["dagster.run_id"] == "dagster-run-1"
    assert finished.data.metrics == {"train_acc": 1.0, "valid_acc": 1.0}


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
    with ModelRegistry(tracking_uri=sqlite_uri).within_deadline("probing"):
        assert (os.environ[download], os.environ[upload]) == ("false", "true")
    assert download not in os.environ


def test_a_failing_registration_ends_its_run_failed(sqlite_uri: str) -> None:
    """A run whose model cannot be logged is FAILED, not left RUNNING, and registers nothing."""
    registry = ModelRegistry(tracking_uri=sqlite_uri)
    with pytest.raises(RuntimeError, match="boom"):
        registry.register(_record("fail-check", "broken_model", model=_Broken()))
    client = MlflowClient(sqlite_uri)
    experiment = client.get_experiment_by_name("fail-check")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert not client.search_model_versions("name='broken_model'")


def test_versions_promotion_and_loading(sqlite_uri: str) -> None:
    """Two registrations share one experiment and make versions 1 and 2; the alias moves; a
    loaded version predicts; a decision tags the version and its run alike."""
    registry = ModelRegistry(tracking_uri=sqlite_uri)
    first = registry.register(_record("twice", "verbs_model"))
    second = registry.register(_record("twice", "verbs_model"))
    assert first.experiment_id == second.experiment_id
    assert (first.version.version, second.version.version) == (1, 2)
    assert registry.holder("verbs_model", "champion") is None
    registry.promote("verbs_model", "champion", 2)
    assert registry.holder("verbs_model", "champion") == 2
    assert list(registry.load("verbs_model", 1).predict(ROWS[list(FEATURES)].iloc[:3])) == [0, 1, 2]
    registry.annotate(second.version, {"champion.decision": "promoted"})
    client = MlflowClient(sqlite_uri)
    assert client.get_model_version("verbs_model", "2").tags["champion.decision"] == "promoted"
    assert client.get_run(second.version.run_id).data.tags["champion.decision"] == "promoted"


def test_embedded_store_keeps_artifacts_under_iris_home(embedded_env: Path) -> None:
    """Unconfigured, runs go to $IRIS_HOME/mlflow.db and artifacts to $IRIS_HOME/mlartifacts."""
    registry = ModelRegistry()
    assert registry.resolved_tracking_uri() == f"sqlite:///{embedded_env / 'mlflow.db'}"
    registry.register(_record("embedded-check", "embedded_model"))
    assert list((embedded_env / "mlartifacts").rglob("note.txt"))
    assert list((embedded_env / "mlartifacts").rglob("MLmodel"))


def test_ui_links_only_for_a_server(sqlite_uri: str) -> None:
    """Links into the tracking UI exist only when the tracking URI is a server."""
    assert ModelRegistry(tracking_uri=sqlite_uri).ui_url("experiments/1") is None
    server = ModelRegistry(tracking_uri="http://127.0.0.1:5001/")
    assert server.ui_url("experiments/1") == "http://127.0.0.1:5001/#/experiments/1"


def test_ui_links_go_where_people_open_the_ui() -> None:
    """With IRIS_MLFLOW_UI_URL set, links use it, credentials removed, not the tracking URI."""
    registry = ModelRegistry(
        tracking_uri="http://mlflow-server:5000", ui_base_url="http://me:pw@localhost:5001"
    )
    assert registry.ui_url("models/sk_model/versions/3") == (
        "http://localhost:5001/#/models/sk_model/versions/3"
    )


def test_registering_on_a_real_server_stores_the_model_in_s3(mlflow_server: str, s3_client) -> None:
    """Against the tracking server, the model's files land in its S3 bucket."""
    registered = ModelRegistry(tracking_uri=mlflow_server).register(
        _record("resource-check", "server_model")
    )
    version = MlflowClient(mlflow_server).get_model_version("server_model", "1")
    assert _bucket.model_files(s3_client, version) >= _bucket.MODEL_FILES
    assert MlflowClient(mlflow_server).get_run(registered.version.run_id).info.status == "FINISHED"
