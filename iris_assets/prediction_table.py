"""The `iris_prediction` table, as the tutorial's later chapters name it: one prediction per row of
`iris_data`, keyed by that row's id, with the model version that made it.

It lives in the database IRIS_PREDICTIONS_DATABASE_URL names, by default the one of `iris_data`.
So it carries no foreign key to `iris_data`: that table may be in another database, or a view, or
readable only; a prediction whose row was deleted since stays, and the live accuracy, which joins
predictions to rows, leaves it out.
"""

from collections.abc import Sequence
from contextlib import suppress

import psycopg
from psycopg import sql

from iris_assets.id_ranges import Island
from iris_assets.iris_table import ID, LABEL
from iris_assets.iris_table import TABLE as DATA_TABLE
from iris_assets.prediction_target import TABLE, TABLE_PRIVILEGES, TableState

_NAME = sql.Identifier(TABLE).as_string()
"""The table's name as `to_regclass` parses it: found on the search_path as CREATE makes it."""

_CREATE_TABLE = sql.SQL(
    "CREATE TABLE IF NOT EXISTS {table} ("
    " {id} integer PRIMARY KEY,"
    " predicted integer NOT NULL,"
    " model_version integer NOT NULL,"
    " predicted_at timestamptz NOT NULL DEFAULT now())"
).format(table=sql.Identifier(TABLE), id=sql.Identifier(ID))

_STATE = sql.SQL(
    "SELECT current_user, coalesce(n.nspname, current_schema()),"
    " current_setting('transaction_read_only') = 'on', c.relkind::text,"
    " CASE WHEN c.oid IS NULL THEN"
    "  CASE WHEN current_schema() IS NOT NULL"
    "   AND has_schema_privilege(current_schema(), 'CREATE')"
    "  THEN ARRAY[]::text[] ELSE ARRAY['CREATE'] END"
    " ELSE ARRAY(SELECT p FROM unnest(%(privileges)s::text[]) WITH ORDINALITY AS x(p, i)"
    "  WHERE NOT has_table_privilege(c.oid, p) ORDER BY i) END"
    " FROM (SELECT to_regclass(%(name)s) AS oid) AS t"
    " LEFT JOIN pg_class AS c ON c.oid = t.oid"
    " LEFT JOIN pg_namespace AS n ON n.oid = c.relnamespace"
)
# pg_attribute, not information_schema.columns: the latter hides the columns of a table the user
# holds no privilege on, which is when naming them matters most.
_COLUMNS = sql.SQL(
    "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute"
    " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)

_ISLANDS = sql.SQL(
    "SELECT min({id}), max({id}) FROM"
    " (SELECT {id}, {id} - row_number() OVER (ORDER BY {id}) AS island FROM {table}) AS s"
    " GROUP BY island ORDER BY 1"
).format(id=sql.Identifier(ID), table=sql.Identifier(TABLE))

_UPSERT = sql.SQL(
    "INSERT INTO {table} ({id}, predicted, model_version) VALUES (%s, %s, %s)"
    " ON CONFLICT ({id}) DO UPDATE SET predicted = EXCLUDED.predicted,"
    " model_version = EXCLUDED.model_version, predicted_at = now()"
).format(table=sql.Identifier(TABLE), id=sql.Identifier(ID))

VERSION_PREDICTIONS = sql.SQL(
    "SELECT {id}, predicted FROM {table} WHERE model_version = %s ORDER BY {id}"
).format(id=sql.Identifier(ID), table=sql.Identifier(TABLE))
"""Every prediction one version made: its row's id and the class; the parameter is the version."""

_LIVE_COUNTS = sql.SQL(
    "SELECT count(*), count(*) FILTER (WHERE p.predicted = d.{label})"
    " FROM {table} AS p JOIN {data} AS d ON d.{id} = p.{id}"
    " WHERE p.model_version = %s AND d.{label} IS NOT NULL"
).format(
    table=sql.Identifier(TABLE),
    data=sql.Identifier(DATA_TABLE),
    id=sql.Identifier(ID),
    label=sql.Identifier(LABEL),
)


def inspect(conn: psycopg.Connection) -> TableState:
    """The table as it stands (if at all), and what the connection's user may do with it."""
    row = conn.execute(_STATE, {"privileges": list(TABLE_PRIVILEGES), "name": _NAME}).fetchone()
    assert row is not None  # a SELECT without FROM-filter always returns its one row
    user, schema, read_only, kind, missing = row
    columns = tuple(conn.execute(_COLUMNS, (_NAME,)).fetchall()) if kind else ()
    return TableState(user, schema, read_only, kind, columns, tuple(missing))


def create_table(conn: psycopg.Connection) -> None:
    """Create `iris_prediction` unless it exists; safe to call on every run, and from two runs
    at once (PostgreSQL's IF NOT EXISTS can still collide on the table's type: then the other
    run made it)."""
    with suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
        conn.execute(_CREATE_TABLE)


def scored_islands(conn: psycopg.Connection) -> list[Island]:
    """The ids that have a prediction, as runs of consecutive ids, lowest first: one pass over
    the primary key, and a handful of numbers to hand to the database of iris_data."""
    return [(int(first), int(last)) for first, last in conn.execute(_ISLANDS)]


def upsert(conn: psycopg.Connection, rows: Sequence[tuple[int, int, int]]) -> None:
    """Write (id, predicted, model_version) rows in one transaction; a row already there is
    replaced, never duplicated."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(_UPSERT, rows)


def live_counts(conn: psycopg.Connection, version: int) -> tuple[int, int]:
    """Rows `version` predicted whose row in iris_data has a true class, and how many of those
    it got right; for a database that holds both tables."""
    row = conn.execute(_LIVE_COUNTS, (version,)).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0]), int(row[1])
