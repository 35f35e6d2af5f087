"""The README's first commands on a fresh checkout: nothing configured, embedded services.

The commands run in a directory that holds what a fresh clone's root holds for them (its
dagster.yaml), so what they keep lands where it would for a user.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient

from iris_devstack.checkout import REPO
from iris_devstack.dagster_graphql import graphql
from iris_devstack.materialize import materialize
from iris_devstack.ports import free_port
from iris_devstack.processes import background_process, wait_for_http
from iris_devstack.service_env import environ_without_services

DAGSTER_DEV = str(Path(sys.executable).with_name("dagster"))
_RUNS = "query { runsOrError { ... on Runs { results { runId status } } } }"


def _fresh_checkout(path: Path) -> Path:
    shutil.copy(REPO / "dagster.yaml", path)
    return path


def _lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _fresh_checkout(tmp_path_factory.mktemp("checkout"))


@pytest.fixture(scope="module")
def quick_start(checkout: Path) -> list[subprocess.CompletedProcess[str]]:
    """The README's first command, twice, with no environment set."""
    runs = []
    for _ in range(2):
        result, seconds = materialize("*", cwd=checkout, env={})
        assert result.returncode == 0, result.stderr[-4000:]
        print(f"quick start: {seconds:.1f} s")
        runs.append(result)
    return runs


def _instance(checkout: Path, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """The checkout's local instance, opened as the commands open it (from its directory)."""
    monkeypatch.chdir(checkout)
    return dg.DagsterInstance.from_config(str(checkout))


def test_first_command_registers_version_1_then_2(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]]
) -> None:
    """With no environment set, each run registers the next sk_model version in .iris/mlflow.db."""
    client = MlflowClient(f"sqlite:///{checkout / '.iris' / 'mlflow.db'}")
    versions = sorted(int(v.version) for v in client.search_model_versions("name='sk_model'"))
    assert versions == [1, 2]
    assert "embedded PostgreSQL" in quick_start[-1].stderr
    assert "embedded MLflow store" in quick_start[-1].stderr
    assert list((checkout / ".iris" / "mlartifacts").rglob("MLmodel"))


def test_console_shows_no_debug_and_ends_with_the_answer(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]]
) -> None:
    """INFO by default; the last line: the version, its URI, the champion, where to look."""
    lines = _lines(quick_start[-1])
    assert not [line for line in lines if " - DEBUG - " in line]
    assert not [line for line in lines if "Telemetry" in line]
    tracking = f"sqlite:///{checkout.resolve() / '.iris' / 'mlflow.db'}"
    assert lines[-1].startswith(
        "Run succeeded: sk_model version 2 registered as models:/sk_model/2"
    )
    assert "champion moved to it from version 1" in lines[-1] or "champion stays on" in lines[-1]
    assert "http://localhost:5000/#/models/sk_model/versions/2" in lines[-1]
    assert f"uv run mlflow ui --backend-store-uri {tracking}" in lines[-1]


def test_the_model_trains_on_all_three_classes(
    checkout: Path,
    quick_start: list[subprocess.CompletedProcess[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The seeded table's newest rows hold every species, and the class check says so."""
    with _instance(checkout, monkeypatch) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("iris_df"))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("iris_df"), "iris_df_has_every_class")]
        )
    assert {name for name in metadata if name.startswith("rows_target_")} == {
        "rows_target_0",
        "rows_target_1",
        "rows_target_2",
    }
    [execution] = check.values()
    assert execution.status.value == "SUCCEEDED"


def test_mlflow_run_links_back_to_its_dagster_run(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]]
) -> None:
    """Each MLflow run's description links to its Dagster run in the UI of `dagster dev`."""
    client = MlflowClient(f"sqlite:///{checkout / '.iris' / 'mlflow.db'}")
    run = client.get_run(client.get_model_version("sk_model", "2").run_id)
    note = run.data.tags["mlflow.note.content"]
    assert f"(http://localhost:3000/runs/{run.data.tags['dagster.run_id']})" in note
    assert "rows of `iris_data`" in note


def test_history_stays_and_partial_runs_need_nothing_set(
    checkout: Path,
    quick_start: list[subprocess.CompletedProcess[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`*metrics`, then `registered_model` alone, work with nothing set; every run is kept."""
    for select in ("*metrics", "registered_model"):
        result, _ = materialize(select, cwd=checkout, env={})
        assert result.returncode == 0, result.stderr[-4000:]
    assert _lines(result)[-1].startswith("Run succeeded: sk_model version 3 registered")
    with _instance(checkout, monkeypatch) as instance:
        runs = instance.get_runs()
    assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * 4


def test_dagster_dev_shows_the_runs_of_the_command_line(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """`dagster dev` in the checkout opens the same history: the quick start's runs are there."""
    port = free_port()
    command = [DAGSTER_DEV, "dev", "-m", "iris_assets.definitions", "-p", str(port)]
    with background_process(command, tmp_path / "dev.log", environ_without_services(), checkout):
        wait_for_http(f"http://127.0.0.1:{port}/server_info", 180)
        runs = graphql(f"http://127.0.0.1:{port}", _RUNS)["runsOrError"]["results"]
    assert len(runs) >= 2
    assert {run["status"] for run in runs} == {"SUCCESS"}
    assert "Telemetry" not in (tmp_path / "dev.log").read_text()


def test_missing_upstream_fails_at_once_saying_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`registered_model` alone in a new checkout: one attempt, and the fix is the last line."""
    checkout = _fresh_checkout(tmp_path)
    result, _ = materialize("registered_model", cwd=checkout, env={})
    assert result.returncode == 1
    last = _lines(result)[-1]
    assert last.startswith("Run failed at registered_model: ")
    assert last.endswith("Materialize upstream first: --select '*registered_model'")
    with _instance(checkout, monkeypatch) as instance:
        [run] = instance.get_runs()
        retries = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY
        ).records
    assert not retries
