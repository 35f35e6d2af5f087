"""iris_predictions: the champion scores iris_data into iris_prediction, once per row, live."""

from collections.abc import Mapping

import dagster as dg
import psycopg
import pytest

from iris_assets import iris_table
from iris_assets_tests._graph import run_graph


@pytest.fixture(scope="module")
def instance() -> dg.DagsterInstance:
    """One instance for the module: later runs read what earlier ones stored."""
    return dg.DagsterInstance.ephemeral()


OPS = {"registered_model": {"model_name": "predicting_model"}}


def _predictions(result: dg.ExecuteInProcessResult) -> dict:
    (event,) = result.asset_materializations_for_node("iris_predictions")
    return {name: value.value for name, value in event.metadata.items()}


def _table(database_url: str) -> list[tuple]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT p.id, p.predicted, p.model_version, d.target FROM iris_prediction p"
            " JOIN iris_data d USING (id) ORDER BY p.id"
        ).fetchall()


def test_a_materialization_scores_every_row_once_and_shows_live_accuracy(
    graph_resources: Mapping[str, object], instance: dg.DagsterInstance, iris_database_url: str
) -> None:
    """The 150 rows get one prediction each from the champion; live accuracy is plotted metadata."""
    result = run_graph(graph_resources, instance, ops=OPS)
    assert result.success
    metadata = _predictions(result)
    rows = _table(iris_database_url)
    assert len(rows) == metadata["rows_scored"] == 150
    assert {version for _, _, version, _ in rows} == {metadata["model_version"]} == {1}
    live = sum(predicted == target for _, predicted, _, target in rows) / len(rows)
    assert metadata["live_accuracy"] == pytest.approx(live)
    assert live > 0.9
    assert sum(metadata[f"predicted_{label}"] for label in (0, 1, 2)) == 150
    [check] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "live_accuracy_holds"
    ]
    assert check.passed


def test_a_rerun_adds_nothing_twice_and_new_rows_are_scored(
    graph_resources: Mapping[str, object], instance: dg.DagsterInstance, iris_database_url: str
) -> None:
    """Rows that have a prediction are left alone; only rows inserted since are scored."""
    again = run_graph(graph_resources, instance, assets=["iris_predictions"])
    assert again.success
    assert _predictions(again)["rows_scored"] == 0
    assert len(_table(iris_database_url)) == 150
    with psycopg.connect(iris_database_url, autocommit=True) as conn:
        iris_table.insert_rows(conn, iris_table.seed_rows()[:5])
    fresh = run_graph(graph_resources, instance, assets=["iris_predictions"])
    assert _predictions(fresh)["rows_scored"] == 5
    rows = _table(iris_database_url)
    assert len(rows) == len({row[0] for row in rows}) == 155


def test_drift_warns_without_stopping_the_run(
    graph_resources: Mapping[str, object], instance: dg.DagsterInstance, iris_database_url: str
) -> None:
    """Rows the champion gets wrong pull live accuracy down: the check warns, the run goes on."""
    mislabelled = [(*row[:4], (row[4] + 1) % 3) for row in iris_table.seed_rows()[:40]]
    with psycopg.connect(iris_database_url, autocommit=True) as conn:
        iris_table.insert_rows(conn, mislabelled)
    result = run_graph(graph_resources, instance, assets=["iris_predictions"])
    assert result.success
    [check] = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "live_accuracy_holds"
    ]
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert "below the champion's valid_acc" in (check.description or "")
    assert _predictions(result)["live_accuracy"] < 0.2
