"""What a person reads when a run fails or stumbles: the README's command in a checkout, against
real services set up to fail.

Each failure reads as its message in one line and the run's closing line, with no stack trace
(those stay in the run's event log); a step that lost its connection and runs again says so.
"""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from iris_assets_tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY
from iris_assets_tests.end_to_end._dropping_proxy import dropping_proxy
from iris_devstack.checkout import REPO
from iris_devstack.dagster_graphql import launch_materialize_all, wait_for_run
from iris_devstack.materialize import command, materialize
from iris_devstack.ports import free_port
from iris_devstack.processes import background_process, wait_for_http
from iris_devstack.service_env import environ_without_services

_DEBUG = '{"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}'


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A directory that holds what a clone's root holds for the command: its dagster.yaml."""
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy(REPO / "dagster.yaml", root)
    return root


def _console(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def _no_trace(lines: list[str]) -> None:
    """No stack trace of any kind, nor Dagster's line for each step a failure left unrun."""
    assert not [line for line in lines if "Stack Trace" in line or "Traceback" in line]
    assert not [line for line in lines if line.lstrip().startswith('File "')]
    assert not [line for line in lines if "Not executing" in line]


def test_an_unreachable_database_reads_as_its_message_and_the_closing_line(
    checkout: Path, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL at a closed port: the retries, the failure's message once and the closing
    line; the traces are in the event log, and the DEBUG console prints them."""
    url = f"postgresql://myuser:closed-port-2207@127.0.0.1:{free_port()}/mydatabase"
    env = {"IRIS_HOME": str(checkout / ".iris"), "IRIS_DATABASE_URL": url}
    result, _ = materialize("*", cwd=checkout, env=env)
    (artifacts_dir / "failed-run-console.txt").write_text(result.stdout + result.stderr)
    lines = _console(result)
    print("\n".join(lines))
    assert result.returncode == 1
    _no_trace(lines)
    [failure] = [line for line in lines if " - STEP_FAILURE - " in line]
    assert 'iris_df - STEP_FAILURE - Execution of step "iris_df" failed. Cannot connect to ' in (
        failure
    )
    assert failure.endswith("Gave up after 3 attempts. (stack trace in the run's event log)")
    retries = [line for line in lines if " - WARNING - " in line]
    assert len(retries) == 2 and all("Cannot connect to PostgreSQL at" in line for line in retries)
    assert lines[-1].startswith("Run failed at iris_df: Cannot connect to PostgreSQL at ")
    assert "IRIS_DATABASE_URL from the environment" in lines[-1]
    assert lines[-1].endswith("Gave up after 3 attempts.")
    assert "closed-port-2207" not in result.stdout + result.stderr

    monkeypatch.setenv("IRIS_HOME", env["IRIS_HOME"])  # where the checkout's instance lives
    with dg.DagsterInstance.from_config(str(checkout)) as instance:
        [run] = instance.get_runs()
        [stored] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    assert stored.dagster_event is not None
    assert "Stack Trace" in stored.dagster_event.event_specific_data.error.to_string()

    debug, _ = materialize("*", cwd=checkout, env=env, config=_DEBUG)
    debug_lines = _console(debug)
    assert debug.returncode == 1
    assert [line for line in debug_lines if "Stack Trace" in line]
    assert [line for line in debug_lines if "Not executing" in line]
    assert debug_lines[-1] == lines[-1]


def test_a_run_launched_from_dagster_dev_reads_the_same(checkout: Path, tmp_path: Path) -> None:
    """The same fault in a run that `dagster dev` launches (a run worker, as the daemon's): its
    output in dagster dev's log holds no stack trace and ends with the closing line."""
    port, log = free_port(), tmp_path / "dev.log"
    env = {
        **environ_without_services(),
        "IRIS_HOME": str(checkout / ".iris"),
        "IRIS_DATABASE_URL": f"postgresql://myuser:pw@127.0.0.1:{free_port()}/mydatabase",
    }
    args = [str(Path(sys.executable).with_name("dagster")), "dev", "-m", "iris_assets.definitions"]
    with background_process([*args, "-p", str(port)], log, env, checkout):
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/server_info", 180)
        assert wait_for_run(url, launch_materialize_all(url)) == "FAILURE"
        # The run worker prints the closing line as it exits, after the run's status is stored.
        deadline = time.monotonic() + 60
        while "Run failed at" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    print("\n".join(lines))
    _no_trace(lines)
    assert [line for line in lines if " - STEP_FAILURE - " in line]
    [closing] = [line for line in lines if line.startswith("Run failed at")]
    assert closing.startswith("Run failed at iris_df: Cannot connect to PostgreSQL at ")


def test_a_connection_lost_mid_step_is_said_and_the_retry_succeeds(
    checkout: Path, iris_database_url: str
) -> None:
    """The server drops the step's connection at its first statement: a WARNING says why and
    when it runs again, and the second attempt reads the table."""
    with dropping_proxy(iris_database_url) as proxy:
        env = {
            "IRIS_HOME": str(checkout / ".iris"),
            "IRIS_DATABASE_URL": proxy.url(iris_database_url),
        }
        result, _ = materialize("iris_df", cwd=checkout, env=env)
    lines = _console(result)
    print("\n".join(lines))
    assert result.returncode == 0, result.stderr[-4000:]
    assert proxy.dropped == 1
    [retry] = [line for line in lines if " - WARNING - " in line]
    assert "iris_df - iris_df failed on attempt 1 of 3 and runs again in 2 s: Lost the " in retry
    assert "connection to PostgreSQL at postgresql://" in retry
    _no_trace(lines)
    assert lines[-1] == "Run succeeded: materialized iris_df; no model registered."


def test_a_missing_bucket_for_asset_values_fails_at_once_naming_it(
    checkout: Path, s3_endpoint: str, iris_database_url: str
) -> None:
    """IRIS_IO_S3_URI in .env names a bucket the store lacks: the run fails before any step,
    not retried, naming the bucket, the variable and where it was set."""
    (checkout / ".env").write_text("IRIS_IO_S3_URI=s3://no-such-bucket/io\n")
    env = {
        "IRIS_HOME": str(checkout / ".iris"),
        "IRIS_DATABASE_URL": iris_database_url,
        "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
    }
    result, _ = materialize("*", cwd=checkout, env=env)
    lines = _console(result)
    print("\n".join(lines))
    assert result.returncode == 1
    _no_trace(lines)
    assert not [line for line in lines if "Reading iris_data" in line or "attempt" in line]
    assert lines[-1] == (
        "Run failed before any step ran: The bucket 'no-such-bucket' that IRIS_IO_S3_URI from "
        "the environment names for asset values (s3://no-such-bucket/io) does not exist in the "
        f"S3 store at {s3_endpoint} (MLFLOW_S3_ENDPOINT_URL from the environment). Create the "
        "bucket, or point IRIS_IO_S3_URI at one that exists."
    ).replace("IRIS_IO_S3_URI from the environment", "IRIS_IO_S3_URI from .env")


def _small_disk_command(mount_point: Path, size: str) -> list[str] | None:
    """The README's command on a tmpfs of `size` mounted at `mount_point`, in a mount namespace
    of its own (a user namespace too, so no root is needed); None where the kernel refuses."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return None
    prefix = [unshare, "--user", "--map-root-user", "--mount", "sh", "-c"]
    mount = f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "$@"'
    probe = subprocess.run([*prefix, mount, str(mount_point), "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    return [*prefix, mount, str(mount_point), *command("iris_df")]


def test_a_full_disk_under_iris_home_names_the_disk_the_path_and_the_need(checkout: Path) -> None:
    """IRIS_HOME on a 16 MiB disk: the embedded PostgreSQL is not started, and the run says which
    disk, which path and how much room it needs, instead of initdb's CalledProcessError."""
    small = checkout / "small"
    small.mkdir()
    args = _small_disk_command(small, "16m")
    if args is None:
        pytest.skip("this kernel lets no unprivileged process mount a small tmpfs (unshare)")
    home = small / ".iris"
    result = subprocess.run(
        args,
        cwd=checkout,
        env={**environ_without_services(), "IRIS_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = _console(result)
    print("\n".join(lines))
    assert result.returncode == 1
    _no_trace(lines)
    assert "CalledProcessError" not in result.stdout + result.stderr
    assert lines[-1].startswith(
        f"Run failed at iris_df: NotEnoughSpace: The disk that holds {home / 'pg'} (tmpfs mounted "
        f"on {small}) has "
    )
    assert "the embedded PostgreSQL needs about 64.0 MiB there" in lines[-1]
    assert "point IRIS_HOME at a disk with room (IRIS_HOME from the environment)" in lines[-1]
    assert not (home / "pg" / "PG_VERSION").exists()
