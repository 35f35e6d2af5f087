"""registered_model: one complete MLflow run and a new model version, in a local store."""

import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import dagster as dg
import mlflow
import pandas as pd
import psycopg
import pytest
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import Pipeline

from iris_assets import iris_table
from iris_assets.assets import fitted_pipeline, registered_model
from iris_assets.assets.registry import model_requirements
from iris_assets.config import SVCConfig
from iris_assets.frame_lineage import with_source, with_split
from iris_assets.iris_table import FEATURES, LABEL, NEWEST_ROWS
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry, RegisteredVersion
from iris_assets_tests._graph import run_graph
from iris_assets_tests.conftest import DATABASE_PASSWORD


@dataclass(frozen=True)
class Logged:
    """What one materialization of registered_model logged, and what it was given."""

    db: str
    uri: str
    """The tracking URI of the sqlite store it logged to."""
    client: MlflowClient
    run: Run
    metadata: Mapping[str, dg.MetadataValue]
    train: pd.DataFrame
    valid: pd.DataFrame
    pipeline: Pipeline
    registered: RegisteredVersion


@pytest.fixture(scope="module")
def logged(
    tmp_path_factory: pytest.TempPathFactory, iris_frame: pd.DataFrame, iris_database_url: str
) -> Logged:
    """One materialization of registered_model against a fresh sqlite store."""
    store = tmp_path_factory.mktemp("registry_store")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    split_config = {"train_size": 0.5, "random_state": 1}
    read = PostgresResource(database_url=iris_database_url).public_url()
    rows = with_source(iris_frame.copy(), read, iris_table.TABLE, NEWEST_ROWS.as_string())
    train = with_split(rows.iloc[::2].copy(), split_config)
    valid = with_split(rows.iloc[1::2].copy(), split_config)
    pipeline = fitted_pipeline(config=SVCConfig(C=2.0), train_df=train)
    upstream = {
        "iris_df": rows,
        "train_df": train,
        "valid_df": valid,
        "fitted_pipeline": pipeline,
        "metrics": {"train_acc": 0.99, "valid_acc": 0.95},
    }

    @dg.multi_asset(outs={name: dg.AssetOut() for name in upstream})
    def upstream_stand_ins():
        """Stands in for the assets registered_model reads; the rows carry their source and
        the splits their config, as iris_df and iris_split leave them."""
        for name, value in upstream.items():
            yield dg.Output(value, output_name=name)

    result = dg.materialize(
        [upstream_stand_ins, registered_model],
        resources={"registry": ModelRegistry(tracking_uri=uri)},
        run_config={
            "ops": {
                "registered_model": {
                    "config": {"experiment": "unit-exp", "model_name": "unit_model"}
                }
            }
        },
    )
    (materialization,) = result.asset_materializations_for_node("registered_model")
    registered = result.output_for_node("registered_model")
    metadata = materialization.metadata
    client = MlflowClient(uri)
    run = client.get_run(metadata["mlflow_run_id"].value)
    return Logged(
        db=iris_database_url,
        uri=uri,
        client=client,
        run=run,
        metadata=metadata,
        train=train,
        valid=valid,
        pipeline=pipeline,
        registered=registered,
    )


def test_run_is_in_the_experiment_with_params_and_metrics(logged: Logged) -> None:
    """The run holds split and SVC params, both accuracies and the Dagster run id."""
    run = logged.run
    experiment = logged.client.get_experiment(run.info.experiment_id)
    assert experiment.name == "unit-exp"
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"train_acc": 0.99, "valid_acc": 0.95}
    assert run.data.params["train_size"] == "0.5"
    assert run.data.params["random_state"] == "1"
    assert run.data.params["svc_C"] == "2.0"
    assert run.data.params["svc_kernel"] == "rbf"
    assert run.data.params["rows"] == "150"
    assert "dagster.run_id" in run.data.tags


def test_lineage_tags_lead_back_to_dagster_code_and_rows(logged: Logged) -> None:
    """The run names the Dagster run and asset, the code's commit and the id range trained on."""
    tags = logged.run.data.tags
    assert tags["dagster.asset_key"] == "registered_model"
    assert tags["iris_data.min_id"] == "1"
    assert tags["iris_data.max_id"] == "150"
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent,
    ).stdout.strip()
    assert tags["code_version"] == head


def test_confusion_matrix_is_an_svg_of_the_valid_split(logged: Logged) -> None:
    """confusion_matrix.svg is an SVG image whose cells count the valid split's predictions."""
    local = mlflow.artifacts.download_artifacts(
        run_id=logged.run.info.run_id,
        artifact_path="confusion_matrix.svg",
        tracking_uri=logged.uri,
    )
    root = ElementTree.parse(local).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    valid, pipeline = logged.valid, logged.pipeline
    expected = confusion_matrix(valid[LABEL], pipeline.predict(valid[list(FEATURES)]))
    texts = [element.text for element in root.iter("{http://www.w3.org/2000/svg}text")]
    cells = root.findall("{http://www.w3.org/2000/svg}rect[@class='cell']")
    assert len(cells) == expected.size
    counts = [int(text) for text in texts[-expected.size :]]
    assert counts == expected.ravel().tolist()
    assert sum(counts) == len(valid)


def test_the_version_is_tagged_with_its_scores_and_not_yet_promoted(logged: Logged) -> None:
    """registered_model registers and tags; moving the alias is champion_model's job."""
    version = logged.client.get_model_version("unit_model", "1")
    assert version.tags == {"train_acc": "0.99", "valid_acc": "0.95"}
    assert "champion" not in logged.client.get_registered_model("unit_model").aliases
    assert "promoted" not in logged.metadata
    assert logged.registered == RegisteredVersion(
        "unit_model", 1, logged.run.info.run_id, 0.99, 0.95
    )


def test_data_is_logged_as_csv_and_dataset(logged: Logged, iris_frame: pd.DataFrame) -> None:
    """data.csv holds the rows read; the dataset input names table and query, never the password."""
    run = logged.run
    local = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="data.csv", tracking_uri=logged.uri
    )
    pd.testing.assert_frame_equal(pd.read_csv(local, index_col="id"), iris_frame)
    (dataset_input,) = run.inputs.dataset_inputs
    source = json.loads(dataset_input.dataset.source)
    assert dataset_input.dataset.source_type == "postgresql"
    assert source["table"] == "iris_data"
    assert 'FROM "iris_data" ORDER BY "id" DESC LIMIT' in source["query"]
    assert source["database"] == PostgresResource(database_url=logged.db).public_url()
    assert source["database"].startswith("postgresql://postgres@")
    assert DATABASE_PASSWORD not in json.dumps(run.to_dictionary())


@pytest.fixture
def tracking(logged: Logged, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's module-level API reads the test store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", logged.uri)


@pytest.mark.usefixtures("tracking")
def test_model_is_registered_with_signature_and_example(logged: Logged) -> None:
    """Version 1 of the model: four double inputs, the label out, ten example rows."""
    metadata = logged.metadata
    assert metadata["model_uri"].value == "models:/unit_model/1"
    assert metadata["model_version"].value == 1
    local = mlflow.artifacts.download_artifacts("models:/unit_model/1")
    info = mlflow.models.Model.load(local)
    example = info.load_input_example(local)
    loaded = mlflow.sklearn.load_model("models:/unit_model/1")
    inputs = info.signature.inputs.to_dict()
    assert [(c["name"], c["type"]) for c in inputs] == [
        ("sepal_length", "double"),
        ("sepal_width", "double"),
        ("petal_length", "double"),
        ("petal_width", "double"),
    ]
    assert [c["name"] for c in info.signature.outputs.to_dict()] == ["target"]
    pd.testing.assert_frame_equal(
        example.reset_index(drop=True),
        logged.train.iloc[:10, :4].reset_index(drop=True),
    )
    assert list(loaded.predict(example)) == list(
        fitted_pipeline(config=SVCConfig(C=2.0), train_df=logged.train).predict(example)
    )


@pytest.mark.usefixtures("tracking")
def test_requirements_are_explicit_pins() -> None:
    """requirements.txt pins what loading needs, to the installed versions, nothing inferred."""
    local = Path(mlflow.artifacts.download_artifacts("models:/unit_model/1"))
    assert (local / "requirements.txt").read_text().split() == model_requirements()
    assert f"skops=={version('skops')}" in model_requirements()
    assert f"scikit-learn=={version('scikit-learn')}" in model_requirements()


def test_no_link_for_a_local_store(logged: Logged) -> None:
    """A sqlite store has no UI to link to."""
    assert "mlflow_run_url" not in logged.metadata


def test_a_partial_run_logs_where_its_rows_were_read(
    graph_resources: dict[str, Any], empty_database_url: str
) -> None:
    """`registered_model` alone, after the database setting changed since `iris_df` was read,
    logs the database the rows came from (they carry it), not the run's: lineage stays true."""
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        iris_table.seed(conn)
    instance = dg.DagsterInstance.ephemeral()
    upstream = ["iris_df", "train_df", "valid_df", "fitted_pipeline", "metrics"]
    assert run_graph(graph_resources, instance, assets=upstream).success
    moved = {**graph_resources, "postgres": PostgresResource(database_url=empty_database_url)}
    # An experiment of its own: MLflow keeps one dataset per experiment, name and digest, and
    # these rows are the same as other modules' (same seed).
    ops = {"registered_model": {"model_name": "moved_database_model", "experiment": "moved-db"}}
    result = run_graph(moved, instance, ops=ops, assets=["registered_model"])
    assert result.success
    client = graph_resources["registry"].client()
    [version] = client.search_model_versions("name = 'moved_database_model'")
    [dataset] = client.get_run(version.run_id).inputs.dataset_inputs
    source = json.loads(dataset.dataset.source)
    read_from = graph_resources["postgres"].public_url()
    assert source["database"] == read_from
    assert source["database"] != PostgresResource(database_url=empty_database_url).public_url()
