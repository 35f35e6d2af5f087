"""The data checks and the quality gate on values, then the gate and the new version's load check
in a run against PostgreSQL and the MLflow server."""

from collections.abc import Mapping

import dagster as dg
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from iris_assets import checks, iris_table
from iris_assets.assets.predictions import Scored
from iris_assets.config import DataQualityConfig, DriftConfig, QualityGateConfig
from iris_assets.unscored_rows import BadColumn, Unscorable
from iris_assets_tests._graph import run_graph
from iris_assets_tests.conftest import S3_BUCKET
from iris_devstack.registry import versions

UNDERFIT = {"C": 0.01}  # valid_acc 0.35 on the seeded rows: far below the 0.7 floor


def _rows(count: int) -> pd.DataFrame:
    return pd.DataFrame(
        iris_table.seed_rows()[:count], columns=[*iris_table.FEATURES, iris_table.LABEL]
    )


def test_data_checks_pass_on_good_rows_and_say_what_they_saw() -> None:
    """Every blocking data check passes on seeded rows, each describing what it checked."""
    results = list(checks.iris_df_is_trainable(config=DataQualityConfig(), iris_df=_rows(20)))
    assert {r.check_name: r.passed for r in results} == {
        "iris_df_schema": True,
        "iris_df_no_missing_values": True,
        "iris_df_two_classes": True,
        "iris_df_enough_rows": True,
    }
    assert all(r.severity == dg.AssetCheckSeverity.ERROR and r.description for r in results)


def test_data_checks_fail_each_on_its_own_problem() -> None:
    """Too few rows fail only the row count; its floor comes from the check's config."""
    results = checks.iris_df_is_trainable(config=DataQualityConfig(min_rows=30), iris_df=_rows(20))
    failed = {r.check_name: r.description for r in results if not r.passed}
    assert list(failed) == ["iris_df_enough_rows"]
    assert "gave 20 row(s); training needs at least 30" in failed["iris_df_enough_rows"]


@pytest.mark.parametrize(("valid_acc", "passed"), [(0.7, True), (0.69, False)])
def test_floor_lets_through_what_reaches_it(valid_acc: float, passed: bool) -> None:
    """valid_acc at the floor passes; below it, the gate says nothing is registered."""
    result = checks.valid_acc_floor(
        config=QualityGateConfig(), metrics={"train_acc": 1.0, "valid_acc": valid_acc}
    )
    assert result.passed is passed
    assert ("nothing is registered" in (result.description or "")) is not passed


def _evaluation(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def test_gate_blocks_a_model_below_the_floor(
    graph_resources: Mapping[str, object], mlflow_server: str
) -> None:
    """An underfit SVC registers nothing, leaves champion alone, and the check says why."""
    client = MlflowClient(mlflow_server)
    instance = dg.DagsterInstance.ephemeral()
    registry = {"model_name": "gate_model"}
    good = run_graph(graph_resources, instance, ops={"registered_model": registry})
    assert good.success
    champion_before = client.get_model_version_by_alias("gate_model", "champion").version

    bad = run_graph(
        graph_resources, instance, ops={"registered_model": registry, "fitted_pipeline": UNDERFIT}
    )
    assert not bad.success
    gate = _evaluation(bad, "valid_acc_floor")
    assert not gate.passed
    assert "below the floor 0.700" in gate.description
    assert gate.metadata["valid_acc"].value == pytest.approx(0.35)
    assert not bad.asset_materializations_for_node("registered_model")
    assert versions(client.tracking_uri, "gate_model") == [1]
    assert client.get_model_version_by_alias("gate_model", "champion").version == champion_before


def test_floor_is_configurable(graph_resources: Mapping[str, object], mlflow_server: str) -> None:
    """Lowering the floor lets the same weak model through."""
    instance = dg.DagsterInstance.ephemeral()
    result = run_graph(
        graph_resources,
        instance,
        ops={
            "registered_model": {"model_name": "floor_model"},
            "fitted_pipeline": UNDERFIT,
            "metrics_valid_acc_floor": {"min_valid_acc": 0.3},
        },
    )
    assert result.success
    assert versions(mlflow_server, "floor_model") == [1]


def test_new_version_check_passes_then_fails_on_a_broken_artifact(
    graph_resources: Mapping[str, object], mlflow_server: str, s3_client
) -> None:
    """The new version loads and predicts as trained; rerun once its file broke, the check fails."""
    instance = dg.DagsterInstance.ephemeral()
    result = run_graph(
        graph_resources, instance, ops={"registered_model": {"model_name": "load_model"}}
    )
    assert result.success
    check = _evaluation(result, "new_version_predicts")
    assert check.passed
    assert check.description.startswith("models:/load_model/1 loads and predicts 10 example rows")
    assert "as trained" in check.description

    source = MlflowClient(mlflow_server).get_model_version("load_model", "1").source
    model_id = source.removeprefix("models:/")
    objects = s3_client.list_objects_v2(Bucket=S3_BUCKET)["Contents"]
    (model_file,) = [
        o["Key"] for o in objects if o["Key"].endswith(f"{model_id}/artifacts/model.skops")
    ]
    s3_client.put_object(Bucket=S3_BUCKET, Key=model_file, Body=b"not a model")

    rerun = run_graph(graph_resources, instance, checks_only=True)
    broken = _evaluation(rerun, "new_version_predicts")
    assert not broken.passed
    assert "models:/load_model/1 failed to load or predict" in broken.description
    assert not rerun.success


@pytest.mark.parametrize(
    ("run", "live", "passed", "words"),
    [
        (0.85, None, True, "Live accuracy 0.850 on the 40 rows scored now: within 0.10"),
        (0.84, 0.96, False, "on the 40 rows scored now more than 0.10 below the champion's"),
        (None, 0.84, False, "on all 120 rows version 2 has scored more than 0.10 below"),
        (0.9, 0.96, True, "0.900 on the 40 rows scored now and 0.960 on all 120 rows version 2"),
        (None, None, True, "No row version 2 has scored has a true class to compare with yet"),
    ],
)
def test_drift_warns_below_the_margin(
    run: float | None, live: float | None, passed: bool, words: str
) -> None:
    """Live accuracy more than `margin` under the champion's valid_acc warns, on the rows scored
    now or on all the champion has scored; within it, or with nothing to compare, it passes."""
    scored = Scored(
        rows=40,
        model_version=2,
        live_accuracy=live,
        champion_valid_acc=0.95,
        live_rows=120,
        run_accuracy=run,
    )
    result = checks.live_accuracy_holds(config=DriftConfig(), iris_predictions=scored)
    assert (result.passed, result.severity) == (passed, dg.AssetCheckSeverity.WARN)
    assert words in (result.description or "")


def test_a_value_stored_before_live_rows_existed_still_checks() -> None:
    """A Scored of four fields (an earlier release's) loads with defaults: nothing unscorable."""
    scored = Scored(rows=40, model_version=2, live_accuracy=0.5, champion_valid_acc=0.95)
    assert not checks.live_accuracy_holds(config=DriftConfig(), iris_predictions=scored).passed
    assert checks.every_row_scorable(iris_predictions=scored).passed


def test_unscorable_rows_warn_with_their_ids_and_columns() -> None:
    unscorable = Unscorable(rows=1, columns=(BadColumn("sepal_width", 1, (7,)),))
    scored = Scored(
        rows=149, model_version=1, live_accuracy=1.0, champion_valid_acc=1.0, unscorable=unscorable
    )
    result = checks.every_row_scorable(iris_predictions=scored)
    assert (result.passed, result.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert "sepal_width: 1 (id 7)" in (result.description or "")
    assert result.metadata["unscorable_sepal_width"] == dg.MetadataValue.int(1)
