"""Rows of `iris_data` without a prediction, read from the database of `iris_data` alone.

Which ids have a prediction comes from wherever `iris_prediction` lives, as the gaps between runs
of scored ids (iris_assets.id_ranges); each query here takes them as `unnest(lows, highs)` and
reads only those ranges of the primary key, so it costs in proportion to the rows still to score,
not to the table. Only rows whose four features are finite are scored: the others are counted and
named, and never take a place among the `limit` rows a run scores.
"""

from dataclasses import dataclass

import psycopg
from psycopg import sql

from iris_assets.iris_table import FEATURES, ID, MODEL_COLUMNS, TABLE

NAMED_IDS = 10
"""How many ids of unscorable rows each column names, newest first; the count covers them all."""

_FINITE = {
    column: sql.SQL(
        "coalesce({column} > '-Infinity'::float8 AND {column} < 'Infinity'::float8, false)"
    ).format(column=sql.Identifier("d", column))
    for column in FEATURES
}
"""Per feature: neither NULL, NaN (which PostgreSQL sorts above Infinity) nor infinite."""
_SCORABLE = sql.SQL(" AND ").join(_FINITE.values())

_IN_GAP = sql.SQL("d.{id} > g.low AND d.{id} < g.high").format(id=sql.Identifier(ID))
_GAPS = sql.SQL("unnest(%s::int8[], %s::int8[]) AS g(low, high)")

SCORABLE_ROWS = sql.SQL(
    "SELECT {outer} FROM {gaps} CROSS JOIN LATERAL"
    " (SELECT {columns} FROM {table} AS d WHERE {in_gap} AND {scorable}"
    "  ORDER BY d.{id} DESC LIMIT %s) AS d"
    " ORDER BY d.{id} DESC LIMIT %s"
).format(
    outer=sql.SQL(", ").join(sql.Identifier("d", c) for c in (ID, *MODEL_COLUMNS)),
    columns=sql.SQL(", ").join(sql.Identifier("d", c) for c in (ID, *MODEL_COLUMNS)),
    gaps=_GAPS,
    table=sql.Identifier(TABLE),
    in_gap=_IN_GAP,
    scorable=_SCORABLE,
    id=sql.Identifier(ID),
)
"""The newest scorable rows in the gaps, newest first. Parameters: the gaps' lows and highs, and
the number of rows twice (each gap's newest, then the newest of all)."""

_UNSCORABLE = sql.SQL(
    "SELECT count(*), {per_column} FROM {gaps} CROSS JOIN LATERAL"
    " (SELECT {columns} FROM {table} AS d WHERE {in_gap} AND NOT ({scorable})) AS d"
).format(
    per_column=sql.SQL(", ").join(
        sql.SQL(
            "count(*) FILTER (WHERE NOT {finite}),"
            " (array_agg(d.{id} ORDER BY d.{id} DESC) FILTER (WHERE NOT {finite}))[1:%s]"
        ).format(finite=finite, id=sql.Identifier(ID))
        for finite in _FINITE.values()
    ),
    gaps=_GAPS,
    columns=sql.SQL(", ").join(sql.Identifier("d", c) for c in (ID, *FEATURES)),
    table=sql.Identifier(TABLE),
    in_gap=_IN_GAP,
    scorable=_SCORABLE,
    id=sql.Identifier(ID),
)


@dataclass(frozen=True)
class BadColumn:
    """A feature that is NULL, NaN or infinite in `count` unscored rows; `ids` the newest few."""

    column: str
    count: int
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Unscorable:
    """The rows without a prediction that cannot be scored, by the feature that stops them (a row
    may count under several)."""

    rows: int = 0
    columns: tuple[BadColumn, ...] = ()

    def describe(self) -> str | None:
        """The count, each column with its ids, what happens to them and the fix; None if none."""
        if not self.rows:
            return None
        listed = "; ".join(
            f"{bad.column}: {bad.count} (id {_ids(bad)})" for bad in self.columns if bad.count
        )
        return (
            f"{self.rows} row(s) of {TABLE} were not scored: a feature is NULL, NaN or infinite "
            f"({listed}). The other rows were scored. These stay without a prediction, take no "
            "place among the rows a run scores, and are named again by every run until they are "
            "corrected or deleted; the next run scores a corrected row."
        )


def unscorable(conn: psycopg.Connection, lows: list[int], highs: list[int]) -> Unscorable:
    """The unscorable rows in the gaps (lows, highs), counted and named by column."""
    # The SELECT list's slice bounds come before the gaps in the statement's text.
    params = (*([NAMED_IDS] * len(FEATURES)), lows, highs)
    row = conn.execute(_UNSCORABLE, params).fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns one row
    total, *per_column = row
    columns = tuple(
        BadColumn(column, int(count), tuple(int(i) for i in ids or ()))
        for column, count, ids in zip(FEATURES, per_column[::2], per_column[1::2], strict=True)
    )
    return Unscorable(int(total), columns)


def _ids(bad: BadColumn) -> str:
    named = ", ".join(str(i) for i in bad.ids)
    more = bad.count - len(bad.ids)
    return f"{named} and {more} more" if more > 0 else named
