"""Bad rows in the real table stop the run before training, with a message that says what to do."""

import uuid

import dagster as dg
import pandas as pd
import psycopg
import pytest
from mlflow.tracking import MlflowClient

from iris_assets import data_quality, iris_table
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry
from iris_assets_tests._graph import failure_text, run_graph

SEED = "SEED"


def _table(conn: psycopg.Connection, rows: list | str, *statements: str) -> None:
    if rows == SEED:
        iris_table.seed(conn)
    else:
        iris_table.create_table(conn)
        iris_table.insert_rows(conn, rows)
    for statement in statements:
        conn.execute(statement)


# (case, rows, SQL run after filling, failing step, words the message must contain)
CASES = [
    ("missing table", None, (), "iris_df", ["iris_data does not exist", "iris-assets seed"]),
    ("empty table", [], (), "iris_df_is_trainable", ["gave 0 row(s)", "at least 10"]),
    (
        "fewer rows than the split needs",
        [(5.1, 3.5, 1.4, 0.2, 0), (7.0, 3.2, 4.7, 1.4, 1), (6.3, 3.3, 6.0, 2.5, 2)],
        (),
        "iris_df_is_trainable",
        ["gave 3 row(s)", "at least 10"],
    ),
    (
        "one class only",
        [(5.1, 3.5, 1.4, 0.2, 0)] * 30,
        (),
        "iris_df_is_trainable",
        ["only class 0", "at least two"],
    ),
    (
        "a NULL feature",
        SEED,
        ("UPDATE iris_data SET sepal_width = NULL WHERE id = 120",),
        "iris_df_is_trainable",
        ["1 NULL, NaN or infinite value(s)", "sepal_width: 1", "delete or correct"],
    ),
    (
        "an infinite feature",
        SEED,
        ("UPDATE iris_data SET petal_length = 'Infinity' WHERE id IN (100, 101)",),
        "iris_df_is_trainable",
        ["2 NULL, NaN or infinite value(s)", "petal_length: 2"],
    ),
    (
        "a missing feature column",
        SEED,
        ("ALTER TABLE iris_data DROP COLUMN petal_width",),
        "iris_df",
        ["iris_data in postgresql://", "lacks a column", "petal_width", "iris-assets seed"],
    ),
    (
        "a non-numeric feature column",
        SEED,
        (
            "ALTER TABLE iris_data ALTER COLUMN sepal_length TYPE text",
            "UPDATE iris_data SET sepal_length = 'n/a' WHERE id = 140",
        ),
        "iris_df_is_trainable",
        ["iris_data.sepal_length is not numeric", "'n/a'", "id 140"],
    ),
]


@pytest.mark.parametrize(
    ("rows", "statements", "step", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_rows_fail_before_training(
    empty_database_url: str,
    mlflow_server: str,
    rows: list | str | None,
    statements: tuple[str, ...],
    step: str,
    words: list[str],
) -> None:
    """The named step fails with the column, count and fix; nothing is trained or registered."""
    if rows is not None:
        with psycopg.connect(empty_database_url, autocommit=True) as conn:
            _table(conn, rows, *statements)
    model_name = f"bad_data_{uuid.uuid4().hex[:8]}"
    result = run_graph(
        {
            "postgres": PostgresResource(database_url=empty_database_url),
            "registry": ModelRegistry(tracking_uri=mlflow_server),
        },
        dg.DagsterInstance.ephemeral(),
        ops={"registered_model": {"model_name": model_name}},
    )
    assert not result.success
    failed_steps = {event.step_key for event in result.get_step_failure_events()}
    assert failed_steps == {step}
    text = failure_text(result)
    for word in words:
        assert word in text
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert not materialized & {"fitted_pipeline", "metrics", "registered_model"}
    assert MlflowClient(mlflow_server).search_model_versions(f"name='{model_name}'") == []


# The rules themselves, on frames: no service.


def _frame(labels: list[int]) -> pd.DataFrame:
    rows = [(5.1, 3.5, 1.4, 0.2, label) for label in labels]
    return pd.DataFrame(rows, columns=[*iris_table.FEATURES, iris_table.LABEL])


def test_passing_checks_say_what_they_saw() -> None:
    """A passing data check reports rows, columns and classes, not a bare "ok"."""
    frame = _frame([0] * 3 + [1] * 2 + [2])
    assert data_quality.classes_checked(frame) == "3 classes: 0 (3 rows), 1 (2 rows), 2 (1 rows)."
    assert data_quality.missing_values_checked(frame) == (
        "No NULL, NaN or infinite value in 6 rows of 5 columns."
    )
    assert data_quality.row_count_checked(frame, 10) == "6 rows; at least 10 are needed."
    assert "sepal_length" in data_quality.schema_checked(frame)


def test_a_class_the_table_has_but_the_window_lacks_is_named() -> None:
    """The warning names the classes seen, the ones missing, and what to do."""
    problem = data_quality.missing_classes_problem(_frame([1, 2, 2]), [0, 1, 2])
    assert problem is not None
    assert "hold classes [1, 2], but the table also holds [0]" in problem
    assert "Raise iris_df's `limit`" in problem
    assert data_quality.missing_classes_problem(_frame([0, 1, 2]), [0, 1, 2]) is None


def test_a_text_feature_is_named_with_the_row_that_holds_it() -> None:
    """A non-numeric feature names the column, one bad value and its row id."""
    frame = _frame([0, 1, 2]).astype({"petal_width": object})
    frame.index = pd.Index([7, 8, 9], name="id")
    frame.loc[8, "petal_width"] = "wide"
    problem = data_quality.schema_problem(frame)
    assert problem is not None
    assert "iris_data.petal_width is not numeric (e.g. 'wide' in the row with id 8)" in problem
    assert data_quality.schema_problem(_frame([0, 1, 2])) is None
    assert data_quality.schema_problem(_frame([])) is None


def test_fractional_labels_are_no_classes() -> None:
    """Labels must be whole numbers: 0.5 is no class."""
    frame = _frame([0, 1, 2]).astype({"target": float})
    frame.loc[1, "target"] = 0.5
    assert "must hold integer class labels" in (data_quality.schema_problem(frame) or "")


def test_missing_values_are_counted_per_column() -> None:
    """NULL, NaN, infinity and text each count as missing, totalled and listed by column."""
    frame = _frame([0, 1, 2, 0]).astype({"sepal_width": object})
    frame.loc[0, "sepal_length"] = float("nan")
    frame.loc[1, "sepal_length"] = float("inf")
    frame.loc[2, "sepal_width"] = "n/a"
    frame.loc[3, "target"] = None
    problem = data_quality.missing_values_problem(frame)
    assert problem is not None
    assert problem.startswith("4 NULL, NaN or infinite value(s) among the 4 newest rows")
    assert "(sepal_length: 2, sepal_width: 1, target: 1)" in problem
    assert data_quality.missing_values_problem(_frame([0, 1])) is None


@pytest.mark.parametrize(
    ("labels", "found"), [([1, 1, 1], "only class 1"), ([], "no class at all")]
)
def test_one_class_is_not_enough(labels: list[int], found: str) -> None:
    """A window of one class, or none, is refused with what it holds and how to fix it."""
    problem = data_quality.class_problem(_frame(labels))
    assert problem is not None
    assert found in problem
    assert "`iris-assets generate`" in problem
    assert data_quality.class_problem(_frame([0, 1])) is None


def test_too_few_rows_say_how_many_are_needed() -> None:
    """The row count names what it got, what it needs, and how to add rows."""
    problem = data_quality.row_count_problem(_frame([0, 1, 2]), min_rows=10)
    assert problem is not None
    assert "gave 3 row(s); training needs at least 10" in problem
    assert data_quality.row_count_problem(_frame([0, 1, 2]), min_rows=3) is None
