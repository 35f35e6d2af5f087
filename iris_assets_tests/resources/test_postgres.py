"""PostgresResource on a real server and on the embedded one."""

import warnings
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pytest
from psycopg import sql

from iris_assets.resources import _arrow_rows, _psycopg_rows
from iris_assets.resources.postgres import PSYCOPG_MAX_ROWS, PostgresResource

# `expected_rows` that send a read through each reader: psycopg, and ADBC (open-ended or long).
READERS = pytest.mark.parametrize(
    "expected_rows", [10, None, PSYCOPG_MAX_ROWS + 1], ids=["psycopg", "adbc", "adbc-long"]
)


@READERS
def test_read_frame_binds_parameters(iris_database_url: str, expected_rows: int | None) -> None:
    """Values travel as parameters: a quote in a value is data, not SQL."""
    postgres = PostgresResource(database_url=iris_database_url)
    query = sql.SQL("SELECT %s::text AS word, count(*) AS n FROM {} WHERE target = %s").format(
        sql.Identifier("iris_data")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = postgres.read_frame(query, ("it's", 2), expected_rows=expected_rows)
    assert frame.to_dict("records") == [{"word": "it's", "n": 50}]


@READERS
def test_read_frame_names_the_columns_of_an_empty_result(
    iris_database_url: str, expected_rows: int | None
) -> None:
    """An empty result still has the columns asked for."""
    postgres = PostgresResource(database_url=iris_database_url)
    frame = postgres.read_frame(
        sql.SQL("SELECT target FROM iris_data WHERE false"), expected_rows=expected_rows
    )
    assert list(frame.columns) == ["target"]
    assert frame["target"].dtype == "int64"
    assert frame.empty


_EVERY_TYPE = (
    "SELECT n, n::int2 AS small, n::int4 AS int, (n * 0.5)::float4 AS half,"
    " n * 0.25::float8 AS quarter, n % 2 = 0 AS even,"
    " timestamp '2026-01-01 12:00:00.123456' + n * interval '1 hour' AS at,"
    " date '2026-01-01' + n AS day, 'row ' || n AS label"
)


@pytest.mark.parametrize(
    "query",
    [
        sql.SQL(_EVERY_TYPE + " FROM generate_series(1, 20) AS n"),
        sql.SQL(
            "SELECT n, CASE WHEN n = 3 THEN NULL ELSE n END AS gap,"
            " CASE WHEN n = 3 THEN NULL ELSE n * 0.5::float8 END AS half,"
            " CASE WHEN n = 3 THEN NULL ELSE n % 2 = 0 END AS even,"
            " CASE WHEN n = 3 THEN NULL ELSE timestamp '2026-01-01' END AS at,"
            " CASE WHEN n = 3 THEN NULL ELSE 'x' END AS label"
            " FROM generate_series(1, 5) AS n"
        ),
        sql.SQL(_EVERY_TYPE + " FROM generate_series(1, 20) AS n WHERE false"),
        sql.SQL("SELECT * FROM iris_data ORDER BY id DESC LIMIT 100"),
    ],
    ids=["every-type", "nulls", "empty", "iris_data"],
)
def test_both_readers_build_the_same_frame(iris_database_url: str, query: sql.SQL) -> None:
    """Small and large reads give the same columns, dtypes, values and index."""
    index = "id" if "iris_data" in query.as_string() else "n"
    through_adbc = _arrow_rows.read_frame(iris_database_url, query.as_string(), 100, index)
    with psycopg.connect(iris_database_url) as conn:
        through_psycopg = _psycopg_rows.read_frame(conn, query, (), index)
    pd.testing.assert_frame_equal(through_psycopg, through_adbc)


def test_read_frame_fills_typed_columns_across_batches(
    iris_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows arriving in many small batches land in numpy columns; a NULL int becomes NaN."""
    monkeypatch.setattr(_arrow_rows, "BATCH_BYTES", 1024)
    postgres = PostgresResource(database_url=iris_database_url)
    frame = postgres.read_frame(
        sql.SQL(
            "SELECT n, n * 0.5::float8 AS half, CASE WHEN n = 4000 THEN NULL ELSE n END AS gap"
            " FROM generate_series(1, 5000) AS n"
        ),
        index="n",
    )
    assert len(frame) == 5000
    assert frame.index.tolist() == list(range(1, 5001))
    assert frame["half"].tolist() == [n * 0.5 for n in range(1, 5001)]
    assert frame["gap"].dtype == "float64"
    assert frame["gap"].isna().sum() == 1
    assert pd.isna(frame.loc[4000, "gap"])
    assert frame.loc[3999, "gap"] == 3999


@READERS
def test_read_frame_raises_psycopgs_error_for_the_sqlstate(
    iris_database_url: str, expected_rows: int | None
) -> None:
    """A server error comes as psycopg's class for its SQLSTATE, with the server's message."""
    postgres = PostgresResource(database_url=iris_database_url)
    with pytest.raises(psycopg.errors.UndefinedTable, match='relation "no_such_table"'):
        postgres.read_frame(sql.SQL("SELECT * FROM no_such_table"), expected_rows=expected_rows)


def test_read_frame_refuses_a_statement_without_rows(iris_database_url: str) -> None:
    """A statement that returns no rows is refused by name, not with a TypeError from inside."""
    postgres = PostgresResource(database_url=iris_database_url)
    with pytest.raises(psycopg.ProgrammingError, match="needs a query"):
        postgres.read_frame(sql.SQL("SET search_path TO public"), expected_rows=1)


def test_public_url_never_shows_the_password() -> None:
    """Logs, tags and the UI get the address without its password."""
    postgres = PostgresResource(database_url="postgresql://myuser:s3cr3t-pw@db.example:5432/mydb")
    assert postgres.public_url() == "postgresql://myuser@db.example:5432/mydb"
    assert "s3cr3t-pw" not in postgres.describe()


def test_embedded_server_starts_seeded(embedded_env: Path) -> None:
    """With no URL set, the embedded PostgreSQL under IRIS_HOME answers with the 150 iris rows."""
    postgres = PostgresResource()
    assert postgres.is_embedded
    frame = postgres.read_frame(sql.SQL("SELECT count(*) AS n FROM iris_data"))
    assert frame["n"].iloc[0] >= 150
    assert str(embedded_env / "pg") in postgres.describe()


@READERS
def test_unreachable_server_names_the_address(expected_rows: int | None) -> None:
    """A server that does not answer fails with its address, not a hang."""
    postgres = PostgresResource(
        database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    )
    with pytest.raises(dg.Failure, match=r"127\.0\.0\.1"):
        postgres.read_frame(sql.SQL("SELECT 1"), expected_rows=expected_rows)
