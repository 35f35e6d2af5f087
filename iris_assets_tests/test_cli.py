"""The `iris-assets` console script: its options, and its commands against a real PostgreSQL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from iris_assets import cli
from iris_assets_tests.conftest import DATABASE_PASSWORD

CLI = Path(sys.executable).with_name("iris-assets")


def _run(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "IRIS_DATABASE_URL": database_url}
    return subprocess.run(
        [str(CLI), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM iris_data").fetchone()
    assert row is not None
    return row[0]


def test_seed_then_generate(empty_database_url: str) -> None:
    """`seed` creates and fills the table once; `generate --count` adds exactly that many rows."""
    first = _run("seed", database_url=empty_database_url)
    assert first.returncode == 0, first.stderr
    assert "Inserted 150 iris rows" in first.stderr
    again = _run("seed", database_url=empty_database_url)
    assert "already holds rows" in again.stderr
    assert _rows(empty_database_url) == 150

    generated = _run("generate", "--interval", "0", "--count", "3", database_url=empty_database_url)
    assert generated.returncode == 0, generated.stderr
    assert _rows(empty_database_url) == 153


def test_generate_says_it_works_as_it_goes(empty_database_url: str) -> None:
    """A long-running generator reports its progress, not only when it stops."""
    result = _run(
        "generate",
        "--interval",
        "0",
        "--count",
        "25",
        "--report-every",
        "10",
        database_url=empty_database_url,
    )
    assert result.returncode == 0, result.stderr
    assert "Inserting a random row into iris_data every 0 s, 25 in all" in result.stderr
    assert "10 rows inserted so far" in result.stderr
    assert "20 rows inserted so far" in result.stderr
    assert "Inserted 25 random rows" in result.stderr


def test_generate_creates_a_missing_table(empty_database_url: str) -> None:
    """`generate` on a database without the table creates it first."""
    result = _run("generate", "--interval", "0", "--count", "2", database_url=empty_database_url)
    assert result.returncode == 0, result.stderr
    assert _rows(empty_database_url) == 2


def test_generate_stops_cleanly_on_sigterm(empty_database_url: str) -> None:
    """SIGTERM (what `docker compose stop` sends) ends `generate` with exit code 0, rows kept."""
    env = {**os.environ, "IRIS_DATABASE_URL": empty_database_url}
    process = subprocess.Popen(
        [str(CLI), "generate", "--interval", "0.2"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while _rows_or_none(empty_database_url) in (None, 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert "Interrupted" in stderr
    rows = _rows(empty_database_url)
    assert rows >= 1
    assert f"Inserted {rows} random rows" in stderr


def _rows_or_none(database_url: str) -> int | None:
    """Rows in iris_data, or None while the table does not exist yet."""
    try:
        return _rows(database_url)
    except psycopg.errors.UndefinedTable:
        return None


def test_password_is_not_printed(empty_database_url: str) -> None:
    """The log names the database but not its password."""
    assert DATABASE_PASSWORD in empty_database_url
    result = _run("seed", database_url=empty_database_url)
    assert result.returncode == 0, result.stderr
    assert DATABASE_PASSWORD not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "args",
    [["generate", "--count", "0"], ["generate", "--interval", "-1"], ["serve", "--port", "x"]],
)
def test_bad_arguments_are_refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Nonsense counts, intervals and ports are refused with the option named, before any
    database or server is reached."""
    with pytest.raises(SystemExit) as refused:
        cli.main(args)
    assert refused.value.code == 2
    assert args[1] in capsys.readouterr().err
