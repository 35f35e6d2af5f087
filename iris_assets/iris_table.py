"""The `iris_data` table as the tutorial defines it: schema, the 150 seed rows and random rows."""

import csv
import random
from collections.abc import Sequence
from functools import cache
from importlib.metadata import distribution

import psycopg
from psycopg import sql

TABLE = "iris_data"
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
LABEL = "target"

IrisRow = tuple[float, float, float, float, int]

_CREATE_TABLE = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {table} ("
    " id SERIAL PRIMARY KEY,"
    " timestamp timestamp,"
    " sepal_length float8,"
    " sepal_width float8,"
    " petal_length float8,"
    " petal_width float8,"
    " target int)"
).format(table=sql.Identifier(TABLE))

_INSERT_ROW = sql.SQL("INSERT INTO {table} (timestamp, {columns}) VALUES (NOW(), {values})").format(
    table=sql.Identifier(TABLE),
    columns=sql.SQL(", ").join(map(sql.Identifier, (*FEATURES, LABEL))),
    values=sql.SQL(", ").join(sql.Placeholder() * (len(FEATURES) + 1)),
)

# Serialises concurrent seeders, so two first uses cannot both see an empty table.
_SEED_LOCK_KEY = 0x1_415
SEED_ORDER = 2022
"""Seed of the order the 150 rows are inserted in: shuffled, as the tutorial's generator inserts
random rows, so the newest rows hold every species (in dataset order the newest 100 are two)."""

_CLASSES = sql.SQL("SELECT DISTINCT {label} FROM {table} WHERE {label} IS NOT NULL").format(
    label=sql.Identifier(LABEL), table=sql.Identifier(TABLE)
)


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
