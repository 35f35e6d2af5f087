"""The main command against the real services: PostgreSQL over TCP, an MLflow server, S3."""

from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.entities import Run
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

from iris_assets.iris_table import FEATURES, LABEL
from iris_assets.resources.postgres import PostgresResource
from iris_assets_tests import _bucket
from iris_devstack.materialize import materialize
from iris_devstack.ports import free_port


@pytest.fixture(scope="module")
def stack_env(iris_database_url: str, mlflow_server: str, tmp_path_factory) -> dict[str, str]:
    """What a user sets on a machine that reaches the tracking server and nothing behind it.

    As from the host against the Compose stack: no S3 keys, since the server proxies artifacts,
    and no way to the S3 store either. Only the tracking server, named `localhost`, is reached
    directly; every other HTTP request (S3 is at 127.0.0.1) goes to a proxy that refuses it.
    """
    return {
        "IRIS_DATABASE_URL": iris_database_url,
        "MLFLOW_TRACKING_URI": mlflow_server.replace("127.0.0.1", "localhost"),
        "DAGSTER_HOME": str(tmp_path_factory.mktemp("dagster_home")),
        "http_proxy": f"http://127.0.0.1:{free_port()}",
        "no_proxy": "localhost",
    }


def _latest_version(client: MlflowClient) -> int:
    versions = client.search_model_versions("name='sk_model'")
    return max((int(v.version) for v in versions), default=0)


@dataclass(frozen=True)
class Registered:
    """What one run of the main command against the stack left, for the tests to look at."""

    client: MlflowClient
    before: int
    """The latest version of sk_model before the run."""
    version: ModelVersion
    run: Run
    stderr: str


@pytest.fixture(scope="module")
def registered(stack_env: dict[str, str], mlflow_server: str, tmp_path_factory) -> Registered:
    """One `dagster asset materialize --select '*'` against the stack."""
    client = MlflowClient(mlflow_server)
    before = _latest_version(client)
    result, seconds = materialize("*", cwd=tmp_path_factory.mktemp("cwd"), env=stack_env)
    assert result.returncode == 0, result.stderr[-4000:]
    print(f"\ndagster asset materialize --select '*' against the stack: {seconds:.1f} s")
    version = client.get_model_version("sk_model", str(_latest_version(client)))
    return Registered(client, before, version, client.get_run(version.run_id), result.stderr)


def test_run_is_in_new_exp_with_both_metrics(registered: Registered) -> None:
    """The run sits in experiment new-exp with train_acc and valid_acc."""
    run = registered.run
    assert registered.client.get_experiment(run.info.experiment_id).name == "new-exp"
    assert set(run.data.metrics) >= {"train_acc", "valid_acc"}
    assert run.info.status == "FINISHED"


def test_version_went_up_by_one(registered: Registered) -> None:
    """Exactly one new version of sk_model was registered."""
    assert int(registered.version.version) == registered.before + 1


def test_model_files_are_in_the_s3_bucket(registered: Registered, s3_client) -> None:
    """The bucket behind the server holds the model's files and the run's data.csv."""
    assert _bucket.model_files(s3_client, registered.version) >= _bucket.MODEL_FILES
    run_id = registered.run.info.run_id
    assert any(k.endswith(f"{run_id}/artifacts/data.csv") for k in _bucket.keys(s3_client))


def test_signature_names_the_four_features(registered: Registered, monkeypatch) -> None:
    """The logged signature takes the four measurements as doubles."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered.client.tracking_uri)
    info = mlflow.models.get_model_info(f"models:/sk_model/{registered.version.version}")
    assert [(c["name"], c["type"]) for c in info.signature.inputs.to_dict()] == [
        (name, "double") for name in FEATURES
    ]


def test_loaded_model_reproduces_valid_acc(registered: Registered, monkeypatch) -> None:
    """Loaded from the registry, the model scores valid_acc on the valid rows of data.csv."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered.client.tracking_uri)
    run = registered.run
    data = pd.read_csv(
        mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="data.csv")
    )
    _, valid = train_test_split(
        data,
        train_size=float(run.data.params["train_size"]),
        random_state=int(run.data.params["random_state"]),
    )
    model = mlflow.sklearn.load_model(f"models:/sk_model/{registered.version.version}")
    valid_acc = accuracy_score(valid[LABEL], model.predict(valid[list(FEATURES)]))
    assert valid_acc == pytest.approx(run.data.metrics["valid_acc"])
    assert len(data) == 100


def test_load_check_downloads_through_the_server(registered: Registered) -> None:
    """The registered model loads in the run although this client cannot reach S3."""
    assert "Asset check 'new_version_predicts' on 'registered_model' passed" in registered.stderr


def test_log_says_which_services_are_used(
    registered: Registered, stack_env: dict[str, str]
) -> None:
    """The log names the database and the tracking server in use."""
    assert f"MLflow tracking server {stack_env['MLFLOW_TRACKING_URI']}" in registered.stderr
    database = PostgresResource(database_url=stack_env["IRIS_DATABASE_URL"]).public_url()
    assert f"PostgreSQL {database}" in registered.stderr


def test_partial_runs_share_one_dagster_home(
    registered: Registered, stack_env: dict[str, str], tmp_path: Path
) -> None:
    """From an empty DAGSTER_HOME, `*metrics` then `registered_model` alone register a version.

    `*metrics` is metrics and everything upstream of it; `+metrics` would be one layer only, and
    in an empty home its first step would find no iris_df.
    """
    env = {**stack_env, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    (tmp_path / "dagster_home").mkdir()
    for select in ("*metrics", "registered_model"):
        result, _ = materialize(select, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr[-4000:]
    assert _latest_version(registered.client) == int(registered.version.version) + 1
