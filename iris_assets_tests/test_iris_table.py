"""The iris_data table: schema, seeding and random rows, on a real PostgreSQL."""

import random

import psycopg
import pytest

from iris_assets import iris_table


@pytest.fixture
def conn(empty_database_url: str):
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        yield conn


def _count(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM iris_data").fetchone()
    assert row is not None
    return row[0]


def test_schema_is_the_tutorials(conn: psycopg.Connection) -> None:
    """The table has the tutorial's columns and types."""
    iris_table.create_table(conn)
    columns = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'iris_data' ORDER BY ordinal_position"
    ).fetchall()
    assert columns == [
        ("id", "integer"),
        ("timestamp", "timestamp without time zone"),
        ("sepal_length", "double precision"),
        ("sepal_width", "double precision"),
        ("petal_length", "double precision"),
        ("petal_width", "double precision"),
        ("target", "integer"),
    ]


def test_seed_inserts_the_150_rows_once(conn: psycopg.Connection) -> None:
    """Seeding twice leaves exactly the 150 iris rows, each stamped with a time."""
    assert iris_table.seed(conn) == 150
    assert iris_table.seed(conn) == 0
    assert _count(conn) == 150
    per_class = conn.execute(
        "SELECT target, count(*) FROM iris_data WHERE timestamp IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert per_class == [(0, 50), (1, 50), (2, 50)]


def test_the_newest_seeded_rows_hold_every_class(conn: psycopg.Connection) -> None:
    """Seeded shuffled, the newest 100 rows (iris_df's default) hold all three species."""
    iris_table.seed(conn)
    newest = conn.execute(
        "SELECT target, count(*) FROM (SELECT target FROM iris_data ORDER BY id DESC LIMIT 100) t"
        " GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert [label for label, _ in newest] == [0, 1, 2]
    assert min(count for _, count in newest) >= 25
    assert iris_table.classes(conn) == [0, 1, 2]


def test_seed_order_is_the_same_every_time() -> None:
    """Every database is seeded in one order, so the quick start trains on the same rows."""
    assert iris_table.seed_rows() == iris_table.seed_rows()
    assert sorted(iris_table.seed_rows()) == sorted(iris_table.iris_rows())
    assert iris_table.seed_rows() != list(iris_table.iris_rows())


def test_seed_keeps_a_table_that_has_rows(conn: psycopg.Connection) -> None:
    """A table the generator already filled is not seeded on top."""
    iris_table.create_table(conn)
    iris_table.insert_rows(conn, [iris_table.iris_rows()[0]])
    assert iris_table.seed(conn) == 0
    assert _count(conn) == 1


def test_random_rows_are_iris_rows() -> None:
    """Random rows come from the iris data set and follow the seed."""
    rows = [iris_table.random_row(random.Random(7)) for _ in range(3)]
    assert all(row in iris_table.iris_rows() for row in rows)
    assert rows[0] == rows[1] == rows[2]
    assert len(iris_table.iris_rows()) == 150


def test_seed_rows_are_scikit_learns_iris() -> None:
    """The rows read from scikit-learn's CSV are exactly `load_iris()`."""
    from sklearn.datasets import load_iris

    iris = load_iris()
    rows = iris_table.iris_rows()
    assert [row[:4] for row in rows] == [tuple(features) for features in iris.data.tolist()]
    assert [row[4] for row in rows] == iris.target.tolist()
