"""What a Dagster run registered in MLflow: the versions of a model, the version a run made."""

from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient


def registered_version(mlflow_url: str, dagster_run_id: str) -> ModelVersion:
    """The model version that the MLflow run tagged with `dagster_run_id` registered."""
    client = MlflowClient(mlflow_url)
    runs = client.search_runs(
        experiment_ids=[experiment.experiment_id for experiment in client.search_experiments()],
        filter_string=f"tags.`dagster.run_id` = '{dagster_run_id}'",
    )
    if len(runs) != 1:
        raise LookupError(f"{len(runs)} MLflow runs carry dagster.run_id {dagster_run_id}")
    versions = client.search_model_versions(f"run_id = '{runs[0].info.run_id}'")
    if len(versions) != 1:
        raise LookupError(f"MLflow run {runs[0].info.run_id} registered {len(versions)} versions")
    return versions[0]


def versions(tracking_uri: str, model_name: str) -> list[int]:
    """The version numbers of `model_name`, oldest first; none where the model is unknown."""
    found = MlflowClient(tracking_uri).search_model_versions(f"name='{model_name}'")
    return sorted(int(version.version) for version in found)
