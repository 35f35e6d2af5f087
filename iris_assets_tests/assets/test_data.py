"""iris_df: the newest rows of the real table, features and label only."""

import dagster as dg
import psycopg
import pytest

from iris_assets import iris_table
from iris_assets.assets import iris_df
from iris_assets.config import IrisDataConfig
from iris_assets.resources.postgres import PostgresResource
from iris_assets_tests.conftest import DATABASE_PASSWORD


def test_reads_the_newest_rows_newest_first(iris_database_url: str) -> None:
    """`limit` rows, by descending id, with exactly the four features and the label."""
    with psycopg.connect(iris_database_url, autocommit=True) as conn:
        newest = [(9.1, 9.2, 9.3, 9.4, 2), (8.1, 8.2, 8.3, 8.4, 1)]
        iris_table.insert_rows(conn, newest[::-1])
        expected_ids = [
            row[0]
            for row in conn.execute("SELECT id FROM iris_data ORDER BY id DESC LIMIT 5").fetchall()
        ]
    result = iris_df(
        context=dg.build_asset_context(),
        config=IrisDataConfig(limit=5),
        postgres=PostgresResource(database_url=iris_database_url),
    )
    frame = result.value
    assert list(frame.columns) == [*iris_table.FEATURES, iris_table.LABEL]
    assert len(frame) == len(expected_ids) == 5
    assert [tuple(row) for row in frame.head(2).itertuples(index=False)] == newest
    assert frame[list(iris_table.FEATURES)].dtypes.eq("float64").all()
    assert result.metadata["dagster/row_count"].value == 5


def test_missing_table_says_what_to_do(empty_database_url: str) -> None:
    """Without the table, the failure names it, the database and the command that creates it."""
    postgres = PostgresResource(database_url=empty_database_url)
    with pytest.raises(dg.Failure, match="iris_data does not exist") as failure:
        iris_df(context=dg.build_asset_context(), config=IrisDataConfig(), postgres=postgres)
    assert "iris-assets seed" in str(failure.value)
    assert postgres.public_url() in str(failure.value)


def test_metadata_names_the_source_without_password(iris_database_url: str) -> None:
    """The materialization says which database it read, with no password in it."""
    assert DATABASE_PASSWORD in iris_database_url
    result = iris_df(
        context=dg.build_asset_context(),
        config=IrisDataConfig(),
        postgres=PostgresResource(database_url=iris_database_url),
    )
    source = result.metadata["source"].value
    assert source.startswith("postgresql://postgres@")
    assert DATABASE_PASSWORD not in str(result.metadata)
