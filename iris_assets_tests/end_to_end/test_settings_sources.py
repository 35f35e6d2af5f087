"""Where a setting comes from, as users meet it: what the shell exports wins, then `.env` in the
working directory, for `dagster` and `iris-assets` commands alike."""

import subprocess
from pathlib import Path

import psycopg
import pytest

from iris_assets import iris_table
from iris_assets_tests.conftest import DATABASE_PASSWORD
from iris_assets_tests.end_to_end._serving import CLI
from iris_devstack.checkout import REPO
from iris_devstack.materialize import materialize
from iris_devstack.service_env import environ_without_services


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout whose .env points IRIS_DATABASE_URL at one database."""
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    return tmp_path


def _rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        try:
            return conn.execute(f"SELECT count(*) FROM {iris_table.TABLE}").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0


def test_an_exported_variable_wins_over_env_file_in_a_dagster_command(
    checkout: Path, iris_database_url: str, empty_database_url: str
) -> None:
    """Dagster's CLI loads .env over the shell's exports; the run still reads the exported
    database, and says so."""
    (checkout / ".env").write_text(f"IRIS_DATABASE_URL={empty_database_url}\n")
    result, _ = materialize("iris_df", cwd=checkout, env={"IRIS_DATABASE_URL": iris_database_url})
    assert result.returncode == 0, result.stderr[-4000:]
    assert "(IRIS_DATABASE_URL from the environment)" in result.stderr
    assert DATABASE_PASSWORD not in result.stdout + result.stderr


def test_env_file_reaches_dagster_and_iris_assets_commands_alike(
    checkout: Path, empty_database_url: str
) -> None:
    """With the variable only in .env, `iris-assets seed` fills that database and the main
    command reads it: one database for both, each run saying it came from .env."""
    (checkout / ".env").write_text(f"IRIS_DATABASE_URL={empty_database_url}\n")
    seed = subprocess.run(
        [CLI, "seed"],
        cwd=checkout,
        env=environ_without_services(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert seed.returncode == 0, seed.stderr[-4000:]
    assert "(IRIS_DATABASE_URL from .env)" in seed.stderr
    assert _rows(empty_database_url) == 150

    result, _ = materialize("iris_df", cwd=checkout, env={})
    assert result.returncode == 0, result.stderr[-4000:]
    assert "(IRIS_DATABASE_URL from .env)" in result.stderr
    for output in (seed.stderr, result.stdout + result.stderr):
        assert DATABASE_PASSWORD not in output


def test_an_unreachable_database_is_named_with_its_setting_and_source(
    checkout: Path, empty_database_url: str
) -> None:
    """The failure names the variable and where it was set, not the resource's field."""
    (checkout / ".env").write_text(
        "IRIS_DATABASE_URL=postgresql://myuser:closed-port-1618@127.0.0.1:9/mydatabase\n"
    )
    result, _ = materialize("iris_df", cwd=checkout, env={})
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Run failed at iris_df: ")
    assert "Cannot connect to PostgreSQL at postgresql://myuser@127.0.0.1:9/mydatabase" in last
    assert last.endswith(
        "reachable at the address in IRIS_DATABASE_URL from .env). Gave up after 3 attempts."
    )
    assert "closed-port-1618" not in result.stdout + result.stderr
