"""Resources built from the environment: where asset values go when IRIS_IO_S3_URI is set, and
predictions when IRIS_PREDICTIONS_DATABASE_URL is."""

from pathlib import Path

import dagster as dg
import pytest

from iris_assets.resources.from_env import resources_from_env
from iris_assets.resources.io_managers import LocalValuesIOManager
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.s3_values import S3ValuesIOManager


@pytest.mark.parametrize(
    ("location", "bucket", "prefix"),
    [
        ("s3://dagster/io", "dagster", "io"),
        ("s3://dagster/io/runs/", "dagster", "io/runs"),
        ("s3://dagster", "dagster", ""),
    ],
)
def test_values_go_to_the_bucket_and_prefix_named(
    location: str, bucket: str, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bucket is the URI's host; the prefix its path without slashes."""
    monkeypatch.setenv("IRIS_IO_S3_URI", location)
    io_manager = resources_from_env()["io_manager"]
    assert isinstance(io_manager, S3ValuesIOManager)
    assert (io_manager.s3_bucket, io_manager.s3_prefix) == (bucket, prefix)


def test_unset_keeps_values_with_the_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without IRIS_IO_S3_URI the values stay in the Dagster instance's directory."""
    monkeypatch.delenv("IRIS_IO_S3_URI", raising=False)
    assert isinstance(resources_from_env()["io_manager"], LocalValuesIOManager)


@pytest.mark.parametrize("location", ["dagster/io", "https://s3.example/dagster", "s3:///io"])
def test_anything_but_an_s3_uri_is_refused(location: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value that is no s3:// URI is refused with the variable, the value and the shape."""
    monkeypatch.setenv("IRIS_IO_S3_URI", location)
    with pytest.raises(
        ValueError, match=r"IRIS_IO_S3_URI must look like s3://<bucket>/<prefix>"
    ) as raised:
        resources_from_env()
    assert repr(location) in str(raised.value)


def test_predictions_go_where_iris_data_is_while_their_setting_is_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The same variable as the postgres resource, and an origin that names both settings."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IRIS_DATABASE_URL", "postgresql://reader@db:5432/iris")
    monkeypatch.delenv("IRIS_PREDICTIONS_DATABASE_URL", raising=False)
    predictions = resources_from_env()["predictions_postgres"]
    assert isinstance(predictions, PostgresResource)
    assert predictions.database_url == dg.EnvVar("IRIS_DATABASE_URL")
    assert predictions.setting() == (
        "IRIS_DATABASE_URL from the environment, as IRIS_PREDICTIONS_DATABASE_URL is unset"
    )


def test_predictions_go_to_their_own_database_where_it_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IRIS_DATABASE_URL", "postgresql://reader@db:5432/iris")
    monkeypatch.setenv("IRIS_PREDICTIONS_DATABASE_URL", "postgresql://writer@db:5432/scores")
    resources = resources_from_env()
    predictions = resources["predictions_postgres"]
    assert isinstance(predictions, PostgresResource)
    assert predictions.database_url == dg.EnvVar("IRIS_PREDICTIONS_DATABASE_URL")
    assert predictions.setting() == "IRIS_PREDICTIONS_DATABASE_URL from the environment"
    assert resources["postgres"].database_url == dg.EnvVar("IRIS_DATABASE_URL")


def test_both_unset_is_the_embedded_database_for_both(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IRIS_DATABASE_URL", raising=False)
    monkeypatch.delenv("IRIS_PREDICTIONS_DATABASE_URL", raising=False)
    predictions = resources_from_env()["predictions_postgres"]
    assert isinstance(predictions, PostgresResource)
    assert predictions.is_embedded
    assert predictions.setting() == "IRIS_PREDICTIONS_DATABASE_URL and IRIS_DATABASE_URL unset"
