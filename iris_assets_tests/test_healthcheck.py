"""The Compose stack's light health checks against Dagster's own storage and a real gRPC port."""

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance
from dagster._daemon.types import DaemonHeartbeat
from psycopg.conninfo import conninfo_to_dict

from iris_assets import healthcheck
from iris_devstack.checkout import REPO
from iris_devstack.ports import free_port


@pytest.fixture
def instance(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DagsterInstance]:
    """A Dagster instance on PostgreSQL, its address in the DAGSTER_PG_* variables as in Compose."""
    parts = conninfo_to_dict(empty_database_url)
    settings = {
        "DAGSTER_PG_HOST": str(parts.get("host", "127.0.0.1")),
        "DAGSTER_PG_PORT": str(parts.get("port") or 5432),
        "DAGSTER_PG_USER": str(parts.get("user") or "postgres"),
        "DAGSTER_PG_PASSWORD": str(parts.get("password") or "unused"),
        "DAGSTER_PG_DB": str(parts["dbname"]),
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    config = yaml.safe_load((REPO / "deploy/dagster_home/dagster.yaml").read_text())
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump({"storage": config["storage"]}))
    with DagsterInstance.from_config(str(tmp_path)) as opened:
        yield opened


def _beat(instance: DagsterInstance, daemon_type: str, seconds_ago: float = 0.0) -> None:
    instance.add_daemon_heartbeat(
        DaemonHeartbeat(time.time() - seconds_ago, daemon_type, "test-daemon", errors=[])
    )


def test_daemon_is_healthy_when_every_required_loop_beat(instance: DagsterInstance) -> None:
    """Recent heartbeats of the run queue, scheduler and sensor loops pass the check."""
    for daemon_type in healthcheck.REQUIRED_DAEMONS:
        _beat(instance, daemon_type)
    assert healthcheck.daemon() is None
    assert healthcheck.main(["daemon"]) == 0


def test_daemon_without_a_loop_or_with_an_old_beat_is_unhealthy(instance: DagsterInstance) -> None:
    """A loop that never beat, or last beat minutes ago, fails the check, named."""
    _beat(instance, "QUEUED_RUN_COORDINATOR")
    _beat(instance, "SCHEDULER", seconds_ago=healthcheck.HEARTBEAT_MAX_AGE_SECONDS + 60)
    problem = healthcheck.daemon()
    assert problem is not None
    assert re.search(r"SCHEDULER \(15\d s ago\)", problem), problem
    assert "SENSOR (never)" in problem
    assert "QUEUED_RUN_COORDINATOR" not in problem
    assert healthcheck.main(["daemon"]) == 1


def test_code_server_that_does_not_answer_is_unhealthy() -> None:
    """Nothing listening on the port: the check fails at once, saying where it asked."""
    address = f"127.0.0.1:{free_port()}"
    problem = healthcheck.code_server(address)
    assert problem is not None and address in problem


def test_unknown_arguments_print_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong call exits 2 with the usage, rather than reporting healthy."""
    assert healthcheck.main(["webserver"]) == 2
    assert "python -m iris_assets.healthcheck" in capsys.readouterr().err
