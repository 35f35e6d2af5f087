"""Rows without a prediction: the newest scorable ones, and the unscorable ones named, read from
the database of iris_data by the gaps between scored ids."""

import psycopg
import pytest

from iris_assets import id_ranges, iris_table
from iris_assets.resources.postgres import PostgresResource
from iris_assets.unscored_rows import NAMED_IDS, SCORABLE_ROWS, BadColumn, Unscorable, unscorable


def test_no_unscorable_row_says_nothing() -> None:
    assert Unscorable().describe() is None


def test_unscorable_rows_are_counted_and_named_by_column_with_the_fix() -> None:
    """Each column with its count and newest ids; the ids beyond those named are counted."""
    found = Unscorable(
        rows=13,
        columns=(
            BadColumn("sepal_length", 0, ()),
            BadColumn("sepal_width", 12, tuple(range(160, 150, -1))),
            BadColumn("petal_width", 1, (7,)),
        ),
    )
    message = found.describe() or ""
    assert message.startswith(
        "13 row(s) of iris_data were not scored: a feature is NULL, NaN or infinite "
        "(sepal_width: 12 (id 160, 159, 158, 157, 156, 155, 154, 153, 152, 151 and 2 more); "
        "petal_width: 1 (id 7)). The other rows were scored."
    )
    assert "sepal_length" not in message
    assert "until they are corrected or deleted; the next run scores a corrected row" in message


@pytest.fixture
def database(empty_database_url: str) -> PostgresResource:
    """The 150 iris rows; the two newest with a NULL and an infinite feature, an old one NaN."""
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        iris_table.seed(conn)
        conn.execute("UPDATE iris_data SET sepal_width = NULL WHERE id = 150")
        conn.execute("UPDATE iris_data SET petal_length = '-Infinity' WHERE id = 149")
        conn.execute("UPDATE iris_data SET petal_width = 'NaN', sepal_width = NULL WHERE id = 3")
    return PostgresResource(database_url=empty_database_url)


def test_unscorable_rows_take_no_place_among_the_rows_a_run_scores(
    database: PostgresResource,
) -> None:
    """With `limit` 3, the three newest scorable rows come back, not the two bad newest ones: bad
    rows can never fill the window and starve new rows."""
    lows, highs = id_ranges.gaps([])
    rows = database.read_frame(SCORABLE_ROWS, (lows, highs, 3, 3), expected_rows=3, index="id")
    assert list(rows.index) == [148, 147, 146]
    assert list(rows.columns) == [*iris_table.FEATURES, iris_table.LABEL]


def test_only_ids_in_the_gaps_are_read(database: PostgresResource) -> None:
    """Rows with a prediction (ids 1-100 and 120-148 here) are neither scored nor named again."""
    lows, highs = id_ranges.gaps([(1, 100), (120, 148)])
    rows = database.read_frame(SCORABLE_ROWS, (lows, highs, 50, 50), expected_rows=50, index="id")
    assert list(rows.index) == list(range(119, 100, -1))
    with database.connect() as conn:
        found = unscorable(conn, lows, highs)
    assert found.rows == 2
    assert {bad.column: bad.ids for bad in found.columns if bad.count} == {
        "sepal_width": (150,),
        "petal_length": (149,),
    }


def test_each_column_names_its_newest_ids_and_counts_them_all(
    database: PostgresResource, empty_database_url: str
) -> None:
    """NULL, NaN and infinite each count; a row bad in two columns counts once in the total."""
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        conn.execute("UPDATE iris_data SET sepal_width = 'Infinity' WHERE id BETWEEN 10 AND 29")
        found = unscorable(conn, *id_ranges.gaps([]))
    by_column = {bad.column: bad for bad in found.columns}
    assert found.rows == 23
    assert by_column["sepal_width"].count == 22
    assert by_column["sepal_width"].ids == (150, *range(29, 29 - NAMED_IDS + 1, -1))
    assert (by_column["petal_width"].count, by_column["petal_width"].ids) == (1, (3,))
    assert by_column["sepal_length"].count == 0
