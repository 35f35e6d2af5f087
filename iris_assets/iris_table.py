"""The `iris_data` table as the tutorial defines it: its column names, schema and queries, the 150
seed rows and random rows. The rest of the package takes the table's names and SQL from here."""

import csv
import random
from collections.abc import Sequence
from functools import cache
from importlib.metadata import distribution

import psycopg
from psycopg import sql

TABLE = "iris_data"
ID = "id"
"""The primary key: the order rows arrived in, and what traces a training row back to the table."""
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
LABEL = "target"
MODEL_COLUMNS = (*FEATURES, LABEL)
"""The columns a model learns from and predicts."""

IrisRow = tuple[float, float, float, float, int]

_CREATE_TABLE = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {table} ("
    " {id} SERIAL PRIMARY KEY,"
    " timestamp timestamp,"
    " sepal_length float8,"
    " sepal_width float8,"
    " petal_length float8,"
    " petal_width float8,"
    " target int)"
).format(table=sql.Identifier(TABLE), id=sql.Identifier(ID))

_INSERT_ROW = sql.SQL("INSERT INTO {table} (timestamp, {columns}) VALUES (NOW(), {values})").format(
    table=sql.Identifier(TABLE),
    columns=sql.SQL(", ").join(map(sql.Identifier, MODEL_COLUMNS)),
    values=sql.SQL(", ").join(sql.Placeholder() * len(MODEL_COLUMNS)),
)

# Serialises concurrent seeders, so two first uses cannot both see an empty table.
_SEED_LOCK_KEY = 0x1_415
SEED_ORDER = 2022
"""Seed of the order the 150 rows are inserted in: shuffled, as the tutorial's generator inserts
random rows, so the newest rows hold every species (in dataset order the newest 100 are two)."""

_CLASSES = sql.SQL("SELECT DISTINCT {label} FROM {table} WHERE {label} IS NOT NULL").format(
    label=sql.Identifier(LABEL), table=sql.Identifier(TABLE)
)

_NEWEST_ID_AND_ROWS_AFTER = sql.SQL(
    "SELECT coalesce(max({id}), 0), count(*) FILTER (WHERE {id} > %s) FROM {table}"
).format(id=sql.Identifier(ID), table=sql.Identifier(TABLE))

NEWEST_ROWS = sql.SQL("SELECT {columns} FROM {table} ORDER BY {id} DESC LIMIT %s").format(
    columns=sql.SQL(", ").join(map(sql.Identifier, (ID, *MODEL_COLUMNS))),
    table=sql.Identifier(TABLE),
    id=sql.Identifier(ID),
)
"""The newest rows, newest first: the id and the model's columns; the parameter is how many."""

LABELS_IN_RANGES = sql.SQL(
    "SELECT d.{id}, d.{label} FROM unnest(%s::int8[], %s::int8[]) AS r(first, last)"
    " CROSS JOIN LATERAL (SELECT t.{id}, t.{label} FROM {table} AS t"
    "  WHERE t.{id} >= r.first AND t.{id} <= r.last AND t.{label} IS NOT NULL) AS d"
).format(id=sql.Identifier(ID), label=sql.Identifier(LABEL), table=sql.Identifier(TABLE))
"""The id and true class of every row with one whose id lies in a range; the parameters are the
ranges' first and last ids (both included), one range a primary-key scan."""


@cache
def iris_rows() -> tuple[IrisRow, ...]:
    """The 150 rows of scikit-learn's bundled iris data set, in the table's column order.

    Read from the CSV file `load_iris` reads, without importing scikit-learn (seconds of start-up
    that the data generator does not need).
    """
    data = distribution("scikit-learn").locate_file("sklearn/datasets/data/iris.csv")
    with open(data, newline="") as file:
        reader = csv.reader(file)
        next(reader)  # "150,4,setosa,versicolor,virginica": counts and class names
        return tuple(
            (float(a), float(b), float(c), float(d), int(label)) for a, b, c, d, label in reader
        )


def random_row(rng: random.Random) -> IrisRow:
    """One iris row drawn at random, as the tutorial's data generator does."""
    return rng.choice(iris_rows())


def create_table(conn: psycopg.Connection) -> None:
    """Create `iris_data` unless it exists; safe to call on every start."""
    conn.execute(_CREATE_TABLE)


def insert_rows(conn: psycopg.Connection, rows: Sequence[IrisRow]) -> None:
    """Insert rows stamped with the server's clock."""
    with conn.cursor() as cursor:
        cursor.executemany(_INSERT_ROW, rows)


def seed(conn: psycopg.Connection) -> int:
    """Create the table and insert the 150 iris rows if it holds none; return the rows inserted."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SEED_LOCK_KEY,))
        create_table(conn)
        has_rows = conn.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM {table})").format(table=sql.Identifier(TABLE))
        ).fetchone()
        if has_rows is not None and has_rows[0]:
            return 0
        rows = seed_rows()
        insert_rows(conn, rows)
        return len(rows)


def seed_rows() -> list[IrisRow]:
    """The 150 iris rows in the order `seed` inserts them."""
    rows = list(iris_rows())
    random.Random(SEED_ORDER).shuffle(rows)
    return rows


def classes(conn: psycopg.Connection) -> list[int]:
    """The classes the whole table holds, in order."""
    return sorted(int(label) for (label,) in conn.execute(_CLASSES))


def newest_id_and_rows_after(conn: psycopg.Connection, after_id: int) -> tuple[int, int]:
    """The highest id in the table (0 while it is empty) and how many rows have an id above
    `after_id`, read in one statement so that the two agree."""
    row = conn.execute(_NEWEST_ID_AND_ROWS_AFTER, (after_id,)).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0]), int(row[1])
