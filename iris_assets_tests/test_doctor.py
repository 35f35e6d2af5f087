"""`iris-assets doctor`: the report from resolved settings, its exit code, and its checks against
the suite's real PostgreSQL, MLflow server and S3 store, a closed port and the embedded mode."""

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import conninfo_to_dict

from iris_assets import cli, console_settings, doctor, embedded, settings
from iris_assets.doctor import Check, Report, Status
from iris_assets_tests.conftest import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY
from iris_devstack.checkout import REPO
from iris_devstack.ports import free_port
from iris_devstack.service_env import SERVICE_VARIABLES

PASSWORD = "pw-doctor-4417"
SECRET_KEY = "s3-secret-doctor-9902"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory (no .env, no dagster.yaml) and no service variable set; the
    environment as it was afterwards, since `settings.apply()` writes .env's values into it."""
    saved = dict(os.environ)
    for name in SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # The export-wins rule compares with the environment pytest started with: a developer's
    # exported IRIS_DATABASE_URL must not win over the .env these tests write.
    monkeypatch.setattr(settings, "_startup_environ", lambda: dict(os.environ))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IRIS_HOME", str(tmp_path / "home"))
    yield tmp_path
    os.environ.clear()
    os.environ.update(saved)


def _doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`iris-assets doctor` in this process: its exit code and what it printed."""
    with pytest.raises(SystemExit) as ended:
        cli.main(["doctor"])
    captured = capsys.readouterr()
    return int(ended.value.code or 0), captured.out + captured.err


# Unit: the report and the exit code.


def _resolved(tmp_path: Path) -> dict[str, settings.Resolved]:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"IRIS_DATABASE_URL=postgresql://myuser:{PASSWORD}@localhost:5432/mydatabase\n"
        "MLFLOW_TRACKING_URI=http://localhost:5001\n"
    )
    environ = {"AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_ACCESS_KEY_ID": "iris-s3"}
    return settings.resolve(environ=environ, startup_environ=environ, env_file=env_file)


HOME = Path("/home/you/iris-assets/.iris")
"""Where the report says local state lives: a path of a user's length, not pytest's, whose length
varies with the session number (a path never wraps)."""


def _report(tmp_path: Path, checks: list[Check]) -> Report:
    return Report(
        resolved=_resolved(tmp_path),
        checks=checks,
        working_directory=tmp_path,
        home=HOME,
        state=[("pg", "not created yet (embedded PostgreSQL)")],
        versions=[("dagster", "1.13.27")],
    )


def test_report_shows_each_setting_with_its_source_and_no_secret(tmp_path: Path) -> None:
    """Every setting appears with where it came from; a password and a secret key never do."""
    text = doctor.format_report(_report(tmp_path, []))
    for setting in settings.SETTINGS:
        assert setting.name in text
    assert re.search(
        r"IRIS_DATABASE_URL from \.env +postgresql://myuser@localhost:5432/mydatabase", text
    )
    assert re.search(r"AWS_SECRET_ACCESS_KEY from the environment +set \(not shown\)", text)
    assert re.search(r"IRIS_HOME unset +\.iris in the working directory", text)
    assert ".env in this directory (found)" in text
    assert PASSWORD not in text
    assert SECRET_KEY not in text


def test_report_names_each_failure_with_its_setting_source_and_fix(tmp_path: Path) -> None:
    """A failing service is listed at the end with the setting, its source and what to do."""
    failed = Check(
        "PostgreSQL",
        Status.FAIL,
        "cannot connect to postgresql://myuser@localhost:5432/mydatabase: connection refused",
        "IRIS_DATABASE_URL from .env",
        "start the database (docker compose up -d postgres-server)",
    )
    ok = Check(
        "MLflow", Status.OK, "http://localhost:5001 answers", "MLFLOW_TRACKING_URI from .env"
    )
    text = doctor.format_report(_report(tmp_path, [failed, ok]))
    verdict = text.split("did not answer (exit code 1):")[1]
    assert " ".join(verdict.split()) == (
        "FAIL IRIS_DATABASE_URL from .env: cannot connect to "
        "postgresql://myuser@localhost:5432/mydatabase: connection refused — start the database "
        "(docker compose up -d postgres-server)"
    )
    assert "1 needed service did not answer" in text
    assert max(len(line) for line in text.splitlines()) <= doctor.WIDTH


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ([Status.OK, Status.OK], 0),
        ([Status.OK, Status.WARN, Status.SKIP], 0),
        ([Status.OK, Status.FAIL, Status.WARN], 1),
        ([Status.FAIL], 1),
    ],
)
def test_exit_code_is_one_only_when_something_needed_fails(
    statuses: list[Status], code: int
) -> None:
    """Warnings (no table yet, no dagster.yaml) leave the exit code at 0: a readiness gate before
    `iris-assets seed` must pass on an empty database."""
    checks = [Check("service", status, "found", "origin") for status in statuses]
    assert doctor.exit_code(checks) == code


def test_an_unexpected_error_is_a_failure_without_a_trace_or_a_secret(tmp_path: Path) -> None:
    """A check that raises becomes a failing line, its secret scrubbed from the error's words."""
    resolved = _resolved(tmp_path)

    def broken(setting: settings.Resolved) -> Check:
        raise RuntimeError(f"boom near {setting.value}")

    check = doctor._guarded(
        "PostgreSQL", resolved["IRIS_DATABASE_URL"], broken, doctor._secrets(resolved)
    )
    assert check.status is Status.FAIL
    assert "RuntimeError: boom near" in check.found
    assert PASSWORD not in check.found


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
            'role "myuser" does not exist',
            'the server says role "myuser" does not exist',
        ),
        (
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
            'password authentication failed for user "myuser"',
            "the server refused the user or password",
        ),
        (
            'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection '
            "refused\n\tIs the server running on that host and accepting TCP/IP connections?",
            "connection refused",
        ),
        ("connection failed: timeout expired", f"no answer within {doctor.TIMEOUT_SECONDS} s"),
    ],
)
def test_connection_errors_in_a_persons_words(message: str, reason: str) -> None:
    """libpq's and requests' long messages become the part a person acts on."""
    assert doctor._connection_reason(message) == reason


def test_a_fresh_home_is_reported_and_left_untouched(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With nothing set and nothing created, every needed service is fine (the first run creates
    them), and doctor creates nothing itself."""
    code, out = _doctor(capsys)
    assert code == 0, out
    flat = " ".join(out.split())
    assert "not created yet: the first run creates and seeds it" in flat
    assert f"embedded store {workdir / 'home' / 'mlflow.db'}: not created yet" in flat
    assert "not used (MLFLOW_S3_ENDPOINT_URL and IRIS_IO_S3_URI unset)" in flat
    assert not (workdir / "home").exists()


def test_a_missing_dagster_home_fails_naming_it(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dagster refuses a DAGSTER_HOME that is no directory; doctor says so first."""
    monkeypatch.setenv("DAGSTER_HOME", str(workdir / "nowhere"))
    code, out = _doctor(capsys)
    assert code == 1
    assert f"DAGSTER_HOME from the environment: {workdir / 'nowhere'} is no directory" in " ".join(
        out.split()
    )


def test_a_dagster_home_without_the_console_settings_is_a_warning(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An instance of one's own runs, but without the project's console: exit 0, a warning that
    points at the README's lines; with those lines in its dagster.yaml, no warning."""
    home = workdir / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    code, out = _doctor(capsys)
    assert code == 0, out
    flat = " ".join(out.split())
    assert "its dagster.yaml lacks the project's console settings" in flat
    assert f'add the lines of README "Your own Dagster instance" to {home / "dagster.yaml"}' in flat

    (home / "dagster.yaml").write_text(_readme_console_settings())
    code, out = _doctor(capsys)
    assert code == 0, out
    assert f"ok Dagster DAGSTER_HOME from the environment instance {home}" in " ".join(out.split())
    assert "console settings" not in out


def _readme_console_settings() -> str:
    """The yaml block of README "Your own Dagster instance", the lines doctor's advice names."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Your own Dagster instance") :]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_closing_line_handler_is_named_as_it_is_defined() -> None:
    """doctor names the console's handlers without importing them (that imports Dagster): the
    names must stay the classes'."""
    from iris_assets.console import ConsoleMessages
    from iris_assets.run_summary import RunSummaryHandler

    defined = f"{RunSummaryHandler.__module__}.{RunSummaryHandler.__name__}"
    assert defined == console_settings.RUN_SUMMARY_HANDLER
    assert (
        f"{ConsoleMessages.__module__}.{ConsoleMessages.__name__}"
        == console_settings.CONSOLE_HANDLER
    )


def test_local_state_sizes_survive_files_that_vanish(tmp_path: Path) -> None:
    """A running PostgreSQL removes temporary files while doctor adds up its folder: a file gone
    between listing and looking counts as nothing instead of losing the whole size."""
    (tmp_path / "kept").write_bytes(b"x" * 2048)
    assert doctor._bytes(tmp_path / "vanished") == 0
    assert doctor._size(tmp_path) == "2.0 KB"


# Integration: the suite's real services.


def test_real_postgres_and_mlflow_answer(
    workdir: Path,
    iris_database_url: str,
    mlflow_server: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Against the suite's PostgreSQL and MLflow server: exit 0, the rows iris_data holds and the
    server's MLflow version."""
    monkeypatch.setenv("IRIS_DATABASE_URL", iris_database_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    code, out = _doctor(capsys)
    assert code == 0, out
    flat = " ".join(out.split())
    assert "iris_data holds 150 rows" in flat
    assert re.search(rf"{re.escape(mlflow_server)} answers \(MLflow 3\.\d+\.\d+\)", flat)
    assert "Everything needed answers (exit code 0)" in flat


def test_closed_port_fails_naming_the_setting_and_its_source(
    workdir: Path, mlflow_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database nobody listens for, set in .env: exit 1 within seconds, naming
    IRIS_DATABASE_URL and .env, never the password; the MLflow server that answers is fine."""
    port = free_port()
    (workdir / ".env").write_text(
        f"IRIS_DATABASE_URL=postgresql://myuser:{PASSWORD}@127.0.0.1:{port}/mydatabase\n"
        f"MLFLOW_TRACKING_URI={mlflow_server}\n"
    )
    started = time.monotonic()
    code, out = _doctor(capsys)
    assert time.monotonic() - started < 2 * doctor.TIMEOUT_SECONDS
    assert code == 1, out
    flat = " ".join(out.split())
    assert (
        f"FAIL IRIS_DATABASE_URL from .env: cannot connect to "
        f"postgresql://myuser@127.0.0.1:{port}/mydatabase: connection refused — start the "
        "database (docker compose up -d postgres-server)"
    ) in flat
    assert "remove IRIS_DATABASE_URL from .env to use the embedded PostgreSQL" in flat
    assert "1 needed service did not answer" in flat
    assert PASSWORD not in out


def test_embedded_mode_starts_the_existing_cluster_and_counts_rows(
    embedded_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded PostgreSQL a run created is started and asked; the state under IRIS_HOME is
    listed."""
    monkeypatch.chdir(embedded_env)
    embedded.database_url()  # what a run does first: create, start and seed
    code, out = _doctor(capsys)
    assert code == 0, out
    flat = " ".join(out.split())
    assert re.search(
        rf"IRIS_DATABASE_URL unset embedded PostgreSQL under {re.escape(str(embedded_env))}/pg "
        r"answers \(PostgreSQL \d+\.\d+\); iris_data holds \d+ rows",
        flat,
    ), out
    assert re.search(r"pg \d+\.\d MB, embedded PostgreSQL", flat), out
    assert f"Local state in {embedded_env} (IRIS_HOME from the environment)" in flat, out


def test_s3_bucket_of_asset_values_is_asked(
    workdir: Path,
    s3_endpoint: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """IRIS_IO_S3_URI's bucket answers with the right keys; a bucket that does not exist fails,
    naming it."""
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
    monkeypatch.setenv("IRIS_IO_S3_URI", f"s3://{S3_BUCKET}/io")
    code, out = _doctor(capsys)
    assert code == 0, out
    assert f"bucket {S3_BUCKET} at {s3_endpoint} answers" in " ".join(out.split())

    monkeypatch.setenv("IRIS_IO_S3_URI", "s3://no-such-bucket/io")
    code, out = _doctor(capsys)
    assert code == 1, out
    assert f"bucket no-such-bucket at {s3_endpoint}: no such bucket" in " ".join(out.split())
    assert S3_SECRET_KEY not in out


def test_dagster_home_with_postgres_storage_is_asked(
    workdir: Path,
    postgres_server_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The Compose stack's instance config, its DAGSTER_PG_* pointing at the suite's server:
    its storage answers; pointed at a closed port, doctor fails naming DAGSTER_HOME."""
    server = conninfo_to_dict(postgres_server_url)
    monkeypatch.setenv("DAGSTER_HOME", str(REPO / "deploy" / "dagster_home"))
    monkeypatch.setenv("DAGSTER_PG_HOST", str(server.get("host") or "127.0.0.1"))
    monkeypatch.setenv("DAGSTER_PG_PORT", str(server.get("port") or 5432))
    monkeypatch.setenv("DAGSTER_PG_USER", str(server.get("user") or "postgres"))
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "")
    monkeypatch.setenv("DAGSTER_PG_DB", str(server.get("dbname") or "postgres"))
    code, out = _doctor(capsys)
    assert code == 0, out
    assert "its PostgreSQL storage answers" in out

    monkeypatch.setenv("DAGSTER_PG_HOST", "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(free_port()))
    code, out = _doctor(capsys)
    assert code == 1, out
    assert "FAIL DAGSTER_HOME from the environment" in " ".join(out.split())
    assert "connection refused" in out
