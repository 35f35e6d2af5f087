"""The Definitions as a user loads them, and the whole graph on the embedded services."""

import importlib
import tomllib
from pathlib import Path

import dagster as dg
import pytest
import yaml
from mlflow.tracking import MlflowClient

import iris_assets.definitions
from iris_assets.definitions import defs
from iris_devstack.checkout import REPO

ASSET_KEYS = {
    "iris_data",
    "iris_df",
    "train_df",
    "valid_df",
    "fitted_pipeline",
    "metrics",
    "registered_model",
    "champion_model",
    "iris_predictions",
}


def test_asset_keys_and_group_are_the_contract() -> None:
    """Every asset of the agreed architecture exists under its key, in group `iris`."""
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert set(specs) == ASSET_KEYS
    assert {spec.group_name for spec in specs.values()} == {"iris"}


def test_lineage_runs_from_the_table_to_the_predictions() -> None:
    """iris_data starts it; the champion is chosen on the valid rows; predictions go last."""
    graph = defs.resolve_asset_graph()

    def parents(key: str) -> set[str]:
        return {k.to_user_string() for k in graph.get(dg.AssetKey(key)).parent_keys}

    assert parents("iris_df") == {"iris_data"}
    assert parents("registered_model") == {
        "iris_df",
        "train_df",
        "valid_df",
        "fitted_pipeline",
        "metrics",
    }
    assert parents("champion_model") == {"registered_model", "valid_df"}
    assert parents("iris_predictions") == {"champion_model", "iris_data"}


def test_checks_guard_the_rows_the_metrics_and_the_registered_model() -> None:
    """Data checks on iris_df, the gate on metrics, the load check on registered_model."""
    checks = {
        key.name: key.asset_key.to_user_string()
        for key in defs.resolve_asset_graph().asset_check_keys
    }
    assert checks == {
        "iris_df_schema": "iris_df",
        "iris_df_no_missing_values": "iris_df",
        "iris_df_two_classes": "iris_df",
        "iris_df_enough_rows": "iris_df",
        "iris_df_has_every_class": "iris_df",
        "valid_acc_floor": "metrics",
        "new_version_predicts": "registered_model",
        "live_accuracy_holds": "iris_predictions",
        "every_row_scorable": "iris_predictions",
    }


def test_retraining_automation_starts_stopped() -> None:
    """The sensor and the schedule exist and, as Dagster users expect, start stopped."""
    sensor = defs.resolve_sensor_def("new_iris_rows")
    schedule = defs.resolve_schedule_def("retrain_iris_daily")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert sensor.job_name == schedule.job_name == "retrain_iris"


def test_steps_run_in_one_process() -> None:
    """The in-process executor spares each step a re-import of the code location."""
    assert defs.resolve_implicit_global_asset_job_def().executor_def is dg.in_process_executor


def test_entry_points_load_this_module() -> None:
    """`dagster dev` (workspace.yaml) and the CLI (pyproject) load iris_assets.definitions."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["tool"]["dagster"]["module_name"] == "iris_assets.definitions"
    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "iris_assets.definitions"


def test_configured_services_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set variables become EnvVars (the UI shows their names, never the values)."""
    monkeypatch.setenv("IRIS_DATABASE_URL", "postgresql://u:secret-pw@db:5432/iris")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    try:
        reloaded = importlib.reload(iris_assets.definitions).defs
        postgres = reloaded.resources["postgres"]
        registry = reloaded.resources["registry"]
        assert postgres.database_url == dg.EnvVar("IRIS_DATABASE_URL")
        assert registry.tracking_uri == dg.EnvVar("MLFLOW_TRACKING_URI")
        assert registry.aws_secret_access_key is None
    finally:
        monkeypatch.undo()
        importlib.reload(iris_assets.definitions)


def test_whole_graph_on_embedded_services(embedded_env: Path) -> None:
    """Unconfigured, materializing everything registers a new sk_model version under IRIS_HOME."""
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral())
    assert result.success
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == ASSET_KEYS - {"iris_data"}
    (registered,) = result.asset_materializations_for_node("registered_model")
    version = registered.metadata["model_version"].value

    client = MlflowClient(f"sqlite:///{embedded_env / 'mlflow.db'}")
    versions = client.search_model_versions("name = 'sk_model'")
    assert max(int(v.version) for v in versions) == version
    run = client.get_run(registered.metadata["mlflow_run_id"].value)
    assert run.data.tags["dagster.run_id"] == result.run_id
    assert set(run.data.metrics) == {"train_acc", "valid_acc"}
    assert run.data.params["rows"] == "100"
    assert list((embedded_env / "mlartifacts").rglob("model.skops"))
    assert registered.metadata["valid_acc"].value == run.data.metrics["valid_acc"]
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == 9
    assert all(evaluation.passed for evaluation in evaluations)
    descriptions = {e.check_name: e.description for e in evaluations}
    assert descriptions["iris_df_two_classes"].startswith("3 classes: 0 (")
    assert descriptions["iris_df_enough_rows"] == "100 rows; at least 10 are needed."
