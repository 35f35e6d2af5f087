"""The `iris_prediction` table, as the tutorial's later chapters name it: one prediction per row of
`iris_data`, keyed by that row's id, with the model version that made it."""

from collections.abc import Sequence

import psycopg
from psycopg import sql

from iris_assets.iris_table import ID, MODEL_COLUMNS
from iris_assets.iris_table import TABLE as DATA_TABLE

TABLE = "iris_prediction"

_CREATE_TABLE = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {table} ("
    " {id} integer PRIMARY KEY REFERENCES {data} ({id}) ON DELETE CASCADE,"
    " predicted integer NOT NULL,"
    " model_version integer NOT NULL,"
    " predicted_at timestamptz NOT NULL DEFAULT now())"
).format(table=sql.Identifier(TABLE), data=sql.Identifier(DATA_TABLE), id=sql.Identifier(ID))

UNSCORED_ROWS = sql.SQL(
    "SELECT {columns} FROM {data} AS d"
    " WHERE NOT EXISTS (SELECT 1 FROM {table} AS p WHERE p.{id} = d.{id})"
    " ORDER BY d.{id} DESC LIMIT %s"
).format(
    columns=sql.SQL(", ").join(
        sql.SQL("d.{}").format(sql.Identifier(c)) for c in (ID, *MODEL_COLUMNS)
    ),
    data=sql.Identifier(DATA_TABLE),
    table=sql.Identifier(TABLE),
    id=sql.Identifier(ID),
)
"""The newest rows of iris_data that have no prediction yet; the parameter is how many."""

_UPSERT = sql.SQL(
    "INSERT INTO {table} ({id}, predicted, model_version) VALUES (%s, %s, %s)"
    " ON CONFLICT ({id}) DO UPDATE SET predicted = EXCLUDED.predicted,"
    " model_version = EXCLUDED.model_version, predicted_at = now()"
).format(table=sql.Identifier(TABLE), id=sql.Identifier(ID))


def create_table(conn: psycopg.Connection) -> None:
    """Create `iris_prediction` unless it exists; safe to call on every run."""
    conn.execute(_CREATE_TABLE)


def upsert(conn: psycopg.Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """Write (id, predicted, model_version) rows in one transaction; a row already there is
    replaced, never duplicated."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(_UPSERT, rows)
