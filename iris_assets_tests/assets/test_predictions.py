"""iris_predictions: the champion scores iris_data into iris_prediction, once per row, live."""

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from iris_assets import iris_table
from iris_assets.resources.from_env import resources_from_env
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry
from iris_assets.run_summary import error_summary, failure_summary
from iris_assets_tests._graph import failure_text, run_graph
from iris_devstack.postgres import postgres_database
from iris_devstack.service_env import SERVICE_VARIABLES


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


def test_a_rerun_adds_nothing_twice_shows_live_accuracy_and_new_rows_are_scored(
    graph_resources: Mapping[str, object], instance: dg.DagsterInstance, iris_database_url: str
) -> None:
    """Rows that have a prediction are left alone; only rows inserted since are scored. A run
    that scores nothing still shows the champion's live accuracy over every row it scored."""
    first = _table(iris_database_url)
    again = run_graph(graph_resources, instance, assets=["iris_predictions"])
    assert again.success
    metadata = _predictions(again)
    assert (metadata["rows_scored"], metadata["live_rows"]) == (0, 150)
    live = sum(predicted == target for _, predicted, _, target in first) / 150
    assert metadata["live_accuracy"] == pytest.approx(live)
    assert "run_accuracy" not in metadata
    assert _check(again, "live_accuracy_holds").passed
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
    assert _predictions(result)["run_accuracy"] < 0.2


# Each test below has a database of its own, set up as the user meets the situation, and a model
# name of its own on the suite's MLflow server.


def _check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation


def _materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _seeded(url: str, *statements: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        iris_table.seed(conn)
        for statement in statements:
            conn.execute(statement)
    return url


def _closing_line(result: dg.ExecuteInProcessResult) -> str:
    """The line a run under the project's instance config ends with (iris_assets.run_summary)."""
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    return failure_summary((failure.step_key or "", error_summary(error)))


def test_a_row_with_a_missing_feature_is_named_and_the_rest_are_scored(
    empty_database_url: str, mlflow_server: str
) -> None:
    """A NULL sepal_width in an old row (outside the training window) blocks nothing: the run
    succeeds, the row is named in the metadata and by the WARN check, every other row is scored;
    once corrected, the next run scores it."""
    url = _seeded(empty_database_url, "UPDATE iris_data SET sepal_width = NULL WHERE id = 7")
    resources = {
        "postgres": PostgresResource(database_url=url),
        "registry": ModelRegistry(tracking_uri=mlflow_server),
    }
    instance = dg.DagsterInstance.ephemeral()
    result = run_graph(resources, instance, ops={"registered_model": {"model_name": "nan_model"}})
    assert result.success
    metadata = _predictions(result)
    assert (metadata["rows_scored"], metadata["unscorable_rows"]) == (149, 1)
    assert "| sepal_width | 1 | 7 |" in metadata["unscorable"]
    check = _check(result, "every_row_scorable")
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert "1 row(s) of iris_data were not scored" in (check.description or "")
    assert "(sepal_width: 1 (id 7))" in (check.description or "")
    assert 7 not in {row[0] for row in _table(url)}

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE iris_data SET sepal_width = 3.2 WHERE id = 7")
    fixed = run_graph(resources, instance, assets=["iris_predictions"])
    assert (_predictions(fixed)["rows_scored"], _predictions(fixed)["unscorable_rows"]) == (1, 0)
    assert _check(fixed, "every_row_scorable").passed
    assert len(_table(url)) == 150


@pytest.fixture
def reader(empty_database_url: str) -> Iterator[str]:
    """The URL of a user who may only read iris_data (GRANT SELECT, no CREATE on any schema),
    on the 150 iris rows; the role is dropped afterwards."""
    role = f"iris_reader_{uuid.uuid4().hex[:8]}"
    _seeded(
        empty_database_url,
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)).as_string(),
        sql.SQL("GRANT SELECT ON iris_data TO {}").format(sql.Identifier(role)).as_string(),
    )
    parts = urlsplit(empty_database_url)
    yield urlunsplit(parts._replace(netloc=f"{role}@{parts.netloc.rpartition('@')[2]}"))
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.fixture
def writable_url(postgres_server_url: str) -> Iterator[str]:
    """Another empty database, which the predictions setting may point at."""
    with postgres_database(postgres_server_url, f"iris_test_{uuid.uuid4().hex[:12]}") as url:
        yield url


def _from_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mlflow_server: str, **variables: str
) -> dict[str, object]:
    """The resources the code location builds from these variables, and nothing else set."""
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    for name in SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    built = resources_from_env()
    return {
        "postgres": built["postgres"],
        "predictions_postgres": built["predictions_postgres"],
        "registry": ModelRegistry(tracking_uri=mlflow_server),
    }


def test_a_read_only_user_scores_into_the_database_the_setting_names(
    reader: str,
    writable_url: str,
    empty_database_url: str,
    mlflow_server: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """IRIS_DATABASE_URL with a user that may only SELECT iris_data, IRIS_PREDICTIONS_DATABASE_URL
    another database: the run succeeds, predictions land there, and the live accuracy, joined
    across the two databases, is the champion's over every row."""
    resources = _from_env(
        monkeypatch,
        tmp_path,
        mlflow_server,
        IRIS_DATABASE_URL=reader,
        IRIS_PREDICTIONS_DATABASE_URL=writable_url,
    )
    instance = dg.DagsterInstance.ephemeral()
    result = run_graph(
        resources, instance, ops={"registered_model": {"model_name": "reader_model"}}
    )
    assert result.success, failure_text(result)
    metadata = _predictions(result)
    with psycopg.connect(writable_url) as conn:
        predicted = dict(conn.execute("SELECT id, predicted FROM iris_prediction").fetchall())
    with psycopg.connect(empty_database_url) as conn:
        truth = dict(conn.execute("SELECT id, target FROM iris_data").fetchall())
        assert conn.execute("SELECT to_regclass('iris_prediction')").fetchone() == (None,)
    assert len(predicted) == metadata["rows_scored"] == metadata["live_rows"] == 150
    right = sum(predicted[i] == truth[i] for i in predicted)
    assert metadata["live_accuracy"] == pytest.approx(right / 150)
    assert metadata["table"].startswith("iris_prediction in postgresql://postgres@")

    again = run_graph(resources, instance, assets=["iris_predictions"])
    assert (_predictions(again)["rows_scored"], _predictions(again)["live_rows"]) == (0, 150)


def test_a_read_only_user_without_the_setting_fails_naming_the_privilege_and_both_ways_out(
    reader: str, mlflow_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same user, predictions left to go where iris_data is: training, registration and the
    champion succeed; iris_predictions fails before writing anything, naming the privilege, the
    table, the grant and the setting, and the run's closing line names that step."""
    resources = _from_env(monkeypatch, tmp_path, mlflow_server, IRIS_DATABASE_URL=reader)
    result = run_graph(
        resources,
        dg.DagsterInstance.ephemeral(),
        ops={"registered_model": {"model_name": "refused_model"}},
    )
    assert not result.success
    assert {"registered_model", "champion_model"} <= _materialized(result)
    assert "iris_predictions" not in _materialized(result)
    role = urlsplit(reader).username
    line = _closing_line(result)
    assert line.startswith(
        f'Run failed at iris_predictions: User {role} may not create "public"."iris_prediction" '
        "in PostgreSQL at postgresql://"
    )
    assert "it lacks CREATE on schema public" in line
    assert f'`GRANT CREATE ON SCHEMA "public" TO "{role}"`' in line
    assert (
        "or set IRIS_PREDICTIONS_DATABASE_URL to a database you may write (now: IRIS_DATABASE_URL "
        "from the environment, as IRIS_PREDICTIONS_DATABASE_URL is unset)." in line
    )
    done = "The steps before this one succeeded (the alias champion of refused_model points at"
    assert done in line
    with psycopg.connect(reader) as conn:
        assert conn.execute("SELECT to_regclass('iris_prediction')").fetchone() == (None,)


def test_iris_data_as_a_view_is_scored(empty_database_url: str, mlflow_server: str) -> None:
    """iris_data a view over a table of another name: predictions need no foreign key to it."""
    url = _seeded(
        empty_database_url,
        "ALTER TABLE iris_data RENAME TO iris_measurements",
        "CREATE VIEW iris_data AS SELECT * FROM iris_measurements",
    )
    resources = {
        "postgres": PostgresResource(database_url=url),
        "registry": ModelRegistry(tracking_uri=mlflow_server),
    }
    result = run_graph(
        resources,
        dg.DagsterInstance.ephemeral(),
        ops={"registered_model": {"model_name": "view_model"}},
    )
    assert result.success, failure_text(result)
    metadata = _predictions(result)
    assert metadata["rows_scored"] == metadata["live_rows"] == len(_table(url)) == 150
    assert metadata["live_accuracy"] > 0.9


def test_a_foreign_iris_prediction_is_refused_and_left_as_it_was(
    empty_database_url: str, mlflow_server: str
) -> None:
    """A table of that name with other columns: refused before anything is written, naming the
    table, the columns expected and found; its rows and columns stay; the champion is made."""
    url = _seeded(
        empty_database_url,
        "CREATE TABLE iris_prediction (id text PRIMARY KEY, label text)",
        "INSERT INTO iris_prediction VALUES ('a-1', 'setosa')",
    )
    resources = {
        "postgres": PostgresResource(database_url=url),
        "registry": ModelRegistry(tracking_uri=mlflow_server),
    }
    result = run_graph(
        resources,
        dg.DagsterInstance.ephemeral(),
        ops={"registered_model": {"model_name": "foreign_model"}},
    )
    assert not result.success
    assert {"registered_model", "champion_model"} <= _materialized(result)
    line = _closing_line(result)
    assert line.startswith("Run failed at iris_predictions: PostgreSQL at postgresql://")
    assert 'already has a table "public"."iris_prediction" whose columns differ' in line
    assert (
        "expected id integer, predicted integer, model_version integer, predicted_at timestamp "
        "with time zone; found id text, label text." in line
    )
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT * FROM iris_prediction").fetchall() == [("a-1", "setosa")]
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'iris_prediction' ORDER BY ordinal_position"
        ).fetchall()
    assert columns == [("id",), ("label",)]
