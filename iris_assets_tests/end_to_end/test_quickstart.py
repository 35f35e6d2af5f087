"""The README's first commands on a fresh checkout: nothing configured, embedded services.

The commands run in a directory that holds what a fresh clone's root holds for them (its
dagster.yaml), plus the `.env` a user has after the README's Compose step (`cp .env.example
.env`), so what they keep lands where it would for a user, and what they read is what a user's
checkout holds.
"""

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import psutil
import pytest
from mlflow.tracking import MlflowClient

from iris_assets import console_settings
from iris_assets_tests.end_to_end._serving import CLI, SETOSA, predict, wait_for_line
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
    shutil.copy(REPO / ".env.example", path / ".env")
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
    assert "Using embedded PostgreSQL under" in quick_start[-1].stderr
    assert "Using embedded MLflow store" in quick_start[-1].stderr
    assert list((checkout / ".iris" / "mlartifacts").rglob("MLmodel"))


def test_console_shows_no_debug_and_ends_with_the_answer(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]]
) -> None:
    """INFO by default; the last line: the version, its URI, the champion, where to look."""
    lines = _lines(quick_start[-1])
    assert not [line for line in lines if " - DEBUG - " in line]
    assert not [line for line in lines if "Telemetry" in line]
    assert lines[-1].startswith(
        "Run succeeded: sk_model version 2 registered as models:/sk_model/2"
    )
    assert "champion moved to it from version 1" in lines[-1] or "champion stays on" in lines[-1]
    assert "http://localhost:5000/#/models/sk_model/versions/2" in lines[-1]
    assert "once `uv run iris-assets mlflow-ui` serves the MLflow UI" in lines[-1]


def test_copying_env_example_leaves_the_quick_start_embedded(
    quick_start: list[subprocess.CompletedProcess[str]],
) -> None:
    """After `cp .env.example .env` the run still uses the embedded services, and its first lines
    say which it uses and why: each setting unset."""
    err = quick_start[-1].stderr
    assert "(IRIS_DATABASE_URL unset)" in err
    assert "(MLFLOW_TRACKING_URI unset)" in err
    assert "Using Dagster instance " in err and "(DAGSTER_HOME unset" in err
    assert "Cannot connect" not in err


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


def test_mlflow_run_names_its_dagster_run_and_instance(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]]
) -> None:
    """Each MLflow run's description names its Dagster run and the instance that holds it; with
    no Dagster UI set, no link that could open a UI that never saw the run."""
    client = MlflowClient(f"sqlite:///{checkout / '.iris' / 'mlflow.db'}")
    run = client.get_run(client.get_model_version("sk_model", "2").run_id)
    note = run.data.tags["mlflow.note.content"]
    assert f"`{run.data.tags['dagster.run_id']}`" in note
    assert f"`{checkout.resolve() / '.iris' / 'dagster'}`" in note
    assert "/runs/" not in note
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


def test_moving_iris_home_moves_the_stored_values_too(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """`registered_model` alone under another IRIS_HOME finds none of the values stored under
    .iris: it fails at once instead of registering a model whose lineage names a database it was
    not trained on, and registers nothing."""
    elsewhere = tmp_path / "elsewhere"
    result, _ = materialize("registered_model", cwd=checkout, env={"IRIS_HOME": str(elsewhere)})
    assert result.returncode == 1
    assert f"{elsewhere / 'dagster' / 'storage'}" in result.stderr
    assert _lines(result)[-1].endswith("Materialize upstream first: --select '*registered_model'")
    assert not (elsewhere / "mlflow.db").exists()


def test_an_instance_of_ones_own_says_which_console_lines_it_lacks(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """With DAGSTER_HOME set to a bare instance the run warns and gives the lines; with them
    added to its dagster.yaml, the console is INFO again and ends with the closing line."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    bare, _ = materialize("iris_df", cwd=checkout, env={"DAGSTER_HOME": str(home)})
    assert bare.returncode == 0, bare.stderr[-4000:]
    assert f"The dagster.yaml of {home} lacks the project's console settings" in bare.stderr
    assert console_settings.CONSOLE_SETTINGS in bare.stderr

    (home / "dagster.yaml").write_text(console_settings.CONSOLE_SETTINGS + "\n")
    configured, _ = materialize("iris_df", cwd=checkout, env={"DAGSTER_HOME": str(home)})
    lines = _lines(configured)
    assert configured.returncode == 0, configured.stderr[-4000:]
    assert not [line for line in lines if " - DEBUG - " in line or "lacks the project's" in line]
    assert f"Using Dagster instance {home} (DAGSTER_HOME from the environment)" in configured.stderr
    assert lines[-1] == "Run succeeded: materialized iris_df; no model registered."


def test_serve_with_nothing_set_serves_the_quick_starts_champion(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """`iris-assets serve` in the checkout, nothing set, answers with the embedded champion."""
    port = free_port()
    command = [CLI, "serve", "--port", str(port), "--poll", "1"]
    with background_process(command, tmp_path / "serve.log", environ_without_services(), checkout):
        wait_for_http(f"http://127.0.0.1:{port}/ping", 120)
        assert predict(f"http://127.0.0.1:{port}", [SETOSA]) == [0]
    log = (tmp_path / "serve.log").read_text()
    tracking = f"sqlite:///{checkout.resolve() / '.iris' / 'mlflow.db'}"
    assert f"Using the embedded MLflow store {tracking} (MLFLOW_TRACKING_URI unset)" in log
    assert not (checkout / "mlflow.db").exists()


def test_serve_names_a_model_the_store_does_not_have(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """A typo'd model name is said as such, with the store and the names it does hold."""
    log = tmp_path / "serve.log"
    command = [CLI, "serve", "--model-name", "sk_modle", "--port", str(free_port()), "--poll", "1"]
    with background_process(command, log, environ_without_services(), checkout):
        wait_for_line(log, "Not serving", 60)
        time.sleep(2.5)  # two more looks at the registry: said once, not every poll
    text = log.read_text()
    assert "has no registered model named 'sk_modle' (models there: sk_model)" in text
    assert f"embedded MLflow store sqlite:///{checkout.resolve() / '.iris' / 'mlflow.db'}" in text
    assert text.count("Not serving") == 1


def test_the_mlflow_ui_command_is_one_light_process(
    checkout: Path, quick_start: list[subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    """`iris-assets mlflow-ui` shows the quick start's store with one web worker and no job
    runner, where `mlflow ui` alone starts a dozen processes."""
    port = free_port()
    command = [CLI, "mlflow-ui", "--port", str(port)]
    log = tmp_path / "ui.log"
    with background_process(command, log, environ_without_services(), checkout) as ui:
        wait_for_http(f"http://127.0.0.1:{port}/health", 120)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/get?name=sk_model",
            timeout=30,
        ) as response:
            assert json.load(response)["registered_model"]["name"] == "sk_model"
        tree = [ui.pid, *(child.pid for child in psutil.Process(ui.pid).children(recursive=True))]
        commands = [" ".join(psutil.Process(pid).cmdline()) for pid in tree]
    assert len(tree) <= 3, commands
    assert not [c for c in commands if "huey" in c or "job" in c.lower()], commands
