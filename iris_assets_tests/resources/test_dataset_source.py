"""The MLflow dataset source that says where training rows came from."""

import pytest

from iris_assets.resources._dataset_source import PostgresQuerySource


def test_round_trips_through_its_dict() -> None:
    """MLflow stores the source as a dict and rebuilds it from that dict."""
    source = PostgresQuerySource("postgresql://u@db:5432/iris", "iris_data", "SELECT 1")
    rebuilt = PostgresQuerySource.from_dict(source.to_dict())
    assert rebuilt.to_dict() == {
        "database": "postgresql://u@db:5432/iris",
        "table": "iris_data",
        "query": "SELECT 1",
    }
    assert PostgresQuerySource._get_source_type() == "postgresql"


def test_loading_points_to_the_runs_copy() -> None:
    """The table keeps growing, so the source refuses to reload and names data.csv instead."""
    with pytest.raises(NotImplementedError, match=r"data\.csv"):
        PostgresQuerySource("postgresql://db/iris", "iris_data", "SELECT 1").load()
