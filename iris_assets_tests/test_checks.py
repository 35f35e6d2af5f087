"""The quality gate and the new version's load check, against PostgreSQL and the MLflow server."""

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient

from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource
from iris_assets_tests._graph import run_graph

UNDERFIT = {"C": 0.01}  # valid_acc 0.35 on the seeded rows: far below the 0.7 floor


@pytest.fixture(scope="module")
def resources(iris_database_url: str, mlflow_server: str) -> dict:
    return {
        "postgres": PostgresResource(database_url=iris_database_url),
        "mlflow": MLflowResource(tracking_uri=mlflow_server),
    }


def _evaluation(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _versions(client: MlflowClient, name: str) -> list[int]:
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))


def test_gate_blocks_a_model_below_the_floor(resources: dict, mlflow_server: str) -> None:
    """An underfit SVC registers nothing, leaves champion alone, and the check says why."""
    client = MlflowClient(mlflow_server)
    instance = dg.DagsterInstance.ephemeral()
    registry = {"model_name": "gate_model"}
    good = run_graph(resources, instance, ops={"registered_model": registry})
    assert good.success
    champion_before = client.get_model_version_by_alias("gate_model", "champion").version

    bad = run_graph(
        resources, instance, ops={"registered_model": registry, "fitted_pipeline": UNDERFIT}
    )
    assert not bad.success
    gate = _evaluation(bad, "valid_acc_floor")
    assert not gate.passed
    assert "below the floor 0.700" in gate.description
    assert gate.metadata["valid_acc"].value == pytest.approx(0.35)
    assert not bad.asset_materializations_for_node("registered_model")
    assert _versions(client, "gate_model") == [1]
    assert client.get_model_version_by_alias("gate_model", "champion").version == champion_before


def test_floor_is_configurable(resources: dict, mlflow_server: str) -> None:
    """Lowering the floor lets the same weak model through."""
    instance = dg.DagsterInstance.ephemeral()
    result = run_graph(
        resources,
        instance,
        ops={
            "registered_model": {"model_name": "floor_model"},
            "fitted_pipeline": UNDERFIT,
            "metrics_valid_acc_floor": {"min_valid_acc": 0.3},
        },
    )
    assert result.success
    assert _versions(MlflowClient(mlflow_server), "floor_model") == [1]


def test_new_version_check_passes_then_fails_on_a_broken_artifact(
    resources: dict, mlflow_server: str, s3_client
) -> None:
    """The new version loads and predicts as trained; rerun once its file broke, the check fails."""
    instance = dg.DagsterInstance.ephemeral()
    result = run_graph(resources, instance, ops={"registered_model": {"model_name": "load_model"}})
    assert result.success
    check = _evaluation(result, "new_version_predicts")
    assert check.passed
    assert check.description.startswith("models:/load_model/1 loads and predicts 10 example rows")
    assert "as trained" in check.description

    source = MlflowClient(mlflow_server).get_model_version("load_model", "1").source
    model_id = source.removeprefix("models:/")
    objects = s3_client.list_objects_v2(Bucket="mlflow")["Contents"]
    (model_file,) = [
        o["Key"] for o in objects if o["Key"].endswith(f"{model_id}/artifacts/model.skops")
    ]
    s3_client.put_object(Bucket="mlflow", Key=model_file, Body=b"not a model")

    rerun = run_graph(resources, instance, checks_only=True)
    broken = _evaluation(rerun, "new_version_predicts")
    assert not broken.passed
    assert "models:/load_model/1 failed to load or predict" in broken.description
    assert not rerun.success
