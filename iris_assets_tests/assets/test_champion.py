"""The champion alias against the MLflow tracking server: it only ever moves to a better model."""

import dagster as dg
from mlflow.tracking import MlflowClient

from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource
from iris_assets_tests._graph import run_graph

SIGMOID = {"kernel": "sigmoid"}  # valid_acc 0.90 on the seeded rows; the default SVC scores 0.95


def test_alias_moves_to_better_and_stays_on_worse(iris_database_url: str, mlflow_server: str):
    """Worse first (takes the empty alias), then better (moves it), then worse (registered only)."""
    resources = {
        "postgres": PostgresResource(database_url=iris_database_url),
        "mlflow": MLflowResource(tracking_uri=mlflow_server),
    }
    client = MlflowClient(mlflow_server)
    instance = dg.DagsterInstance.ephemeral()
    registry = {"model_name": "alias_model"}
    outcomes = []
    for svc in (SIGMOID, {}, SIGMOID):
        result = run_graph(
            resources, instance, ops={"registered_model": registry, "fitted_pipeline": svc}
        )
        assert result.success
        (event,) = result.asset_materializations_for_node("registered_model")
        champion = client.get_model_version_by_alias("alias_model", "champion")
        outcomes.append(
            (
                event.metadata["model_version"].value,
                event.metadata["promoted"].value,
                int(champion.version),
            )
        )
        print(
            f"version {event.metadata['model_version'].value}: "
            f"valid_acc {client.get_run(champion.run_id).data.metrics['valid_acc']} "
            f"for the champion after it, promoted={event.metadata['promoted'].value}"
        )
    assert outcomes == [(1, True, 1), (2, True, 2), (3, False, 2)]
    assert event.metadata["previous_champion_version"].value == 2
    assert event.metadata["previous_champion_valid_acc"].value == 0.95
