"""PostgresResource on a real server and on the embedded one."""

import warnings
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from psycopg import sql

from iris_assets.resources import _arrow_rows
from iris_assets.resources.postgres import PostgresResource


def test_read_frame_binds_parameters(iris_database_url: str) -> None:
    """Values travel as parameters: a quote in a value is data, not SQL."""
    postgres = PostgresResource(database_url=iris_database_url)
    query = sql.SQL("SELECT %s::text AS word, count(*) AS n FROM {} WHERE target = %s").format(
        sql.Identifier("iris_data")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = postgres.read_frame(query, ("it's", 2))
    assert frame.to_dict("records") == [{"word": "it's", "n": 50}]


def test_read_frame_names_the_columns_of_an_empty_result(iris_database_url: str) -> None:
    """An empty result still has the columns asked for."""
    postgres = PostgresResource(database_url=iris_database_url)
    frame = postgres.read_frame(sql.SQL("SELECT target FROM iris_data WHERE false"))
    assert list(frame.columns) == ["target"]
    assert frame.empty


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


def test_read_frame_raises_psycopgs_error_for_the_sqlstate(iris_database_url: str) -> None:
    """A server error comes as psycopg's class for its SQLSTATE, with the server's message."""
    postgres = PostgresResource(database_url=iris_database_url)
    with pytest.raises(psycopg.errors.UndefinedTable, match='relation "no_such_table"'):
        postgres.read_frame(sql.SQL("SELECT * FROM no_such_table"))


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


def test_unreachable_server_names_the_address() -> None:
    """A server that does not answer fails with its address, not a hang."""
    postgres = PostgresResource(
        database_url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    )
    with pytest.raises(Exception, match=r"127\.0\.0\.1"):
        postgres.read_frame(sql.SQL("SELECT 1"))
