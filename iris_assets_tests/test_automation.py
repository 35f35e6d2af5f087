"""The retraining sensor, fed by the real data generator writing to PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from iris_assets.automation import build_new_rows_sensor
from iris_assets.resources.postgres import PostgresResource

CLI = Path(sys.executable).with_name("iris-assets")
EVERY = 5


def _generate(database_url: str, count: int) -> None:
    """Insert `count` rows with `iris-assets generate`, as the compose data generator does."""
    subprocess.run(
        [str(CLI), "generate", "--interval", "0", "--count", str(count)],
        env={**os.environ, "IRIS_DATABASE_URL": database_url},
        check=True,
        capture_output=True,
        timeout=60,
    )


class _Daemon:
    """Evaluates the sensor as the daemon does: each tick starts from the stored cursor."""

    def __init__(self, database_url: str) -> None:
        self.sensor = build_new_rows_sensor(EVERY)
        self.postgres = PostgresResource(database_url=database_url)
        self.cursor: str | None = None

    def tick(self) -> list[dg.RunRequest]:
        context = dg.build_sensor_context(cursor=self.cursor, resources={"postgres": self.postgres})
        result = self.sensor.evaluate_tick(context)
        self.cursor = result.cursor
        return list(result.run_requests or [])


def test_one_run_per_n_new_rows_and_none_without(empty_database_url: str) -> None:
    """Every N generated rows yield exactly one run request; idle ticks yield none."""
    daemon = _Daemon(empty_database_url)
    assert daemon.tick() == []  # no table yet
    _generate(empty_database_url, 3)
    assert daemon.tick() == []  # first sight: the baseline
    assert daemon.tick() == []
    _generate(empty_database_url, EVERY - 1)
    assert daemon.tick() == []
    _generate(empty_database_url, 1)
    (request,) = daemon.tick()
    assert request.tags["iris_data.new_rows"] == str(EVERY)
    assert daemon.tick() == []
    _generate(empty_database_url, EVERY)
    assert len(daemon.tick()) == 1
    assert daemon.tick() == []


def test_run_keys_never_repeat(empty_database_url: str) -> None:
    """Each request has its own run key, so Dagster never launches the same window twice."""
    daemon = _Daemon(empty_database_url)
    _generate(empty_database_url, 1)
    daemon.tick()
    keys = []
    for _ in range(2):
        _generate(empty_database_url, EVERY)
        keys += [request.run_key for request in daemon.tick()]
    assert len(keys) == len(set(keys)) == 2


def test_threshold_must_be_positive() -> None:
    """A sensor that would fire on zero new rows is refused."""
    with pytest.raises(ValueError, match="min_new_rows must be 1 or more"):
        build_new_rows_sensor(0)
