"""docker-compose.yaml brought up with Docker, driven only through what its containers publish.

One stack for the module, from a fresh .env: "Materialize all" through the webserver's GraphQL
API, then by a click in the UI, then `restart` and `down`/`up`, then a third run; the logs are
read for secrets and `down --volumes` must leave nothing. CI always runs this; a machine without
Docker skips it, saying how to enable it.
"""

import ast
import hashlib
import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import dagster as dg
import psycopg
import pytest
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from playwright.sync_api import Browser

from iris_assets.iris_table import FEATURES
from iris_assets_tests import _bucket
from iris_assets_tests.end_to_end.conftest import STACK_NOTES
from iris_devstack import browser, compose
from iris_devstack.checkout import REPO
from iris_devstack.dagster_graphql import launch_materialize_all, wait_for_run
from iris_devstack.materialize import materialize
from iris_devstack.processes import wait_for_http
from iris_devstack.registry import registered_version

LONG_RUNNING = (
    "postgres-server",
    "data-generator",
    "mlflow-backend-store",
    "mlflow-artifact-store",
    "mlflow-server",
    "dagster-storage",
    "iris-assets-code",
    "dagster-webserver",
    "dagster-daemon",
    "model-server",
)
ONE_SHOTS = ("iris-assets-image", "data-seed")


@dataclass(frozen=True)
class Materialization:
    """A finished run of the stack and the model version it registered."""

    run_id: str
    status: str
    version: ModelVersion


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[compose.ComposeStack]:
    """The stack, up and healthy; on exit (failures too) taken down with its volumes."""
    if reason := compose.unavailable():
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the Compose stack: {reason}")
        pytest.skip(f"the Compose stack needs Docker: {reason}")
    workdir = tmp_path_factory.mktemp("compose")
    with compose.running_stack(workdir) as running:
        print(f"\ncompose project {running.project}: {running.webserver_url}, logs {workdir}")
        containers = len(running.states())
        yield running
    STACK_NOTES.append(
        f"Compose stack {running.project}: {containers} containers on {compose.engine()}; "
        "down --volumes left no container, network or volume"
    )


def _materialize_all(stack: compose.ComposeStack) -> Materialization:
    """What the UI's "Materialize all" sends, through the webserver's GraphQL API."""
    run_id = launch_materialize_all(stack.webserver_url)
    status = wait_for_run(stack.webserver_url, run_id)
    assert status == "SUCCESS", f"run {run_id} ended {status}\n{stack.diagnosis()}"
    return Materialization(run_id, status, registered_version(stack.mlflow_url, run_id))


@pytest.fixture(scope="module")
def first_run(stack: compose.ComposeStack) -> Materialization:
    """The stack's first "Materialize all", by API."""
    return _materialize_all(stack)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with browser.chromium() as running:
        yield running


@pytest.fixture(scope="module")
def clicked_run(
    stack: compose.ComposeStack,
    first_run: Materialization,
    chromium: Browser,
    artifacts_dir: Path,
) -> Materialization:
    """The second run: a click on "Materialize all" in the containerized UI, to its end."""
    screenshot = artifacts_dir / "compose-ui-materialize-all.png"
    with browser.page(chromium) as page:
        try:
            browser.open_iris_group(page, stack.webserver_url)
            run_id = browser.click_materialize_all(page)
            status = wait_for_run(stack.webserver_url, run_id)
            browser.shows_status(page, status)
        finally:
            page.screenshot(path=str(screenshot))
            print(f"\nscreenshot: {screenshot}")
    assert status == "SUCCESS", f"run {run_id} ended {status}\n{stack.diagnosis()}"
    return Materialization(run_id, status, registered_version(stack.mlflow_url, run_id))


@pytest.fixture(scope="module")
def host_version(
    stack: compose.ComposeStack,
    clicked_run: Materialization,
    tmp_path_factory: pytest.TempPathFactory,
) -> ModelVersion:
    """The README's main command on the host, run where the stack's .env is, with its first part
    uncommented: nothing exported, the command reads .env itself."""
    workdir = tmp_path_factory.mktemp("host")
    shutil.copy(stack.env_file, workdir / ".env")
    shutil.copy(REPO / "dagster.yaml", workdir)
    result, _ = materialize("*", cwd=workdir, env={})
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Using PostgreSQL postgresql://" in result.stderr
    assert "(IRIS_DATABASE_URL from .env)" in result.stderr
    return _latest_version(stack)


@pytest.fixture(scope="module")
def left_by_down(
    stack: compose.ComposeStack,
    first_run: Materialization,
    clicked_run: Materialization,
    host_version: ModelVersion,
) -> list[str]:
    """`docker compose restart`, `up --wait`, then a plain `down`: the containers it left."""
    stack.compose("restart", timeout=compose.UP_TIMEOUT)
    stack.up()
    stack.down()
    return stack.leftovers()["containers"]


@pytest.fixture(scope="module")
def survivors(
    stack: compose.ComposeStack,
    first_run: Materialization,
    clicked_run: Materialization,
    left_by_down: list[str],
) -> list[Materialization]:
    """The stack's two runs, after `restart` and then `down` and `up` again."""
    stack.up()
    return [first_run, clicked_run]


@pytest.fixture(scope="module")
def third_run(stack: compose.ComposeStack, survivors: list[Materialization]) -> Materialization:
    """A run after the stack came back from `down`."""
    return _materialize_all(stack)


def _s3(stack: compose.ComposeStack):
    """A client of the stack's S3 store on its published port, with the keys from .env."""
    return boto3.client(
        "s3",
        endpoint_url=stack.s3_url,
        aws_access_key_id=stack.env["S3_ACCESS_KEY"],
        aws_secret_access_key=stack.env["S3_SECRET_KEY"],
        region_name="us-east-1",
    )


def _latest_version(stack: compose.ComposeStack) -> ModelVersion:
    """sk_model's newest version in the stack's MLflow server."""
    versions = MlflowClient(stack.mlflow_url).search_model_versions("name = 'sk_model'")
    return max(versions, key=lambda version: int(version.version))


def _dagster_run(stack: compose.ComposeStack, run_id: str) -> tuple[str, set[str]]:
    """The run's status and its kinds of event, as stored in dagster-storage."""
    [status] = stack.psql("dagster-storage", f"SELECT status FROM runs WHERE run_id = '{run_id}'")
    events = stack.psql(
        "dagster-storage",
        f"SELECT DISTINCT dagster_event_type FROM event_logs WHERE run_id = '{run_id}'",
    )
    return status, set(events)


def test_every_service_comes_up(stack: compose.ComposeStack) -> None:
    """`up --wait` leaves the long-running services up (healthy where checked) and the seed done."""
    states = stack.states()
    for name in LONG_RUNNING:
        assert states[name]["State"] == "running", states[name]
        assert states[name]["Health"] in ("healthy", ""), states[name]
    for name in ONE_SHOTS:
        assert (states[name]["State"], states[name]["ExitCode"]) == ("exited", 0), states[name]


def test_the_image_runs_this_checkouts_code(stack: compose.ComposeStack) -> None:
    """The installed package in the containers is the checkout's, file for file (a rebuild after a
    code change must not install a wheel cached from older code)."""
    script = (
        "import hashlib, pathlib, iris_assets; root = pathlib.Path(iris_assets.__file__).parent; "
        "print({str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() "
        "for p in sorted(root.rglob('*.py'))})"
    )
    installed = ast.literal_eval(stack.exec("iris-assets-code", "python", "-c", script))
    root = compose.REPO / "iris_assets"
    local = {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*.py"))
    }
    assert installed == local


def test_materialize_all_registers_a_version(first_run: Materialization) -> None:
    """The first run registers sk_model's first version in the containerized MLflow server."""
    assert first_run.version.name == "sk_model"
    assert first_run.version.version == "1"
    assert first_run.version.source.startswith("models:/m-")


def test_model_files_are_in_the_s3_bucket(
    stack: compose.ComposeStack, first_run: Materialization
) -> None:
    """The MLflow server stored the model's files in the bucket mlflow of the S3 store."""
    assert _bucket.model_files(_s3(stack), first_run.version) >= _bucket.MODEL_FILES


def test_asset_values_live_in_the_dagster_bucket(
    stack: compose.ComposeStack, first_run: Materialization
) -> None:
    """The run handed its values on through S3 (IRIS_IO_S3_URI), not a disk of the code server."""
    listed = _s3(stack).list_objects_v2(Bucket="dagster", Prefix="io/").get("Contents", [])
    stored = {item["Key"].removeprefix("io/") for item in listed}
    assert {"iris_df", "train_df", "valid_df", "fitted_pipeline", "registered_model"} <= stored


def test_the_run_went_through_the_queue_into_dagster_storage(
    stack: compose.ComposeStack, first_run: Materialization
) -> None:
    """dagster-storage holds the run: queued by the webserver, launched by the daemon, a success."""
    status, events = _dagster_run(stack, first_run.run_id)
    assert status == "SUCCESS"
    assert {
        dg.DagsterEventType.RUN_ENQUEUED.value,
        dg.DagsterEventType.RUN_STARTING.value,
        dg.DagsterEventType.ASSET_MATERIALIZATION.value,
        dg.DagsterEventType.RUN_SUCCESS.value,
    } <= events


def test_the_model_server_answers_with_the_champion(
    stack: compose.ComposeStack, first_run: Materialization
) -> None:
    """model-server came up with the stack, before any champion; once the first run made one,
    it serves it (at its next look at the alias, every 30 s) and the README's curl answers."""
    wait_for_http(f"{stack.url('MODEL_SERVER_HOST_PORT')}/ping", 120)
    body = json.dumps(
        {"dataframe_split": {"columns": list(FEATURES), "data": [[5.1, 3.5, 1.4, 0.2]]}}
    ).encode()
    request = urllib.request.Request(
        f"{stack.url('MODEL_SERVER_HOST_PORT')}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response) == {"predictions": [0]}
    logs = stack.logs("model-server")
    assert "Not serving models:/sk_model@champion yet" in logs
    assert f"Serving models:/sk_model@champion (version {first_run.version.version})" in logs


def test_predictions_flow_back_into_postgresql(
    stack: compose.ComposeStack, first_run: Materialization
) -> None:
    """The run scored the table's rows into iris_prediction with the champion's version."""
    rows = stack.psql("postgres-server", "SELECT count(*), min(model_version) FROM iris_prediction")
    count, version = rows[0].split("|")
    assert int(count) >= 150
    assert version == first_run.version.version


def test_data_generator_adds_rows(stack: compose.ComposeStack) -> None:
    """Beside the 150 seed rows, data-generator inserts about a row a second."""
    url = stack.env["IRIS_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        (before,) = conn.execute("SELECT count(*) FROM iris_data").fetchone()
        time.sleep(3)
        (after,) = conn.execute("SELECT count(*) FROM iris_data").fetchone()
    assert before > 150
    assert after >= before + 2


def test_a_click_in_the_ui_registers_the_next_version(
    first_run: Materialization, clicked_run: Materialization
) -> None:
    """ "Materialize all" clicked in the UI runs to Success and registers the next version."""
    assert clicked_run.version.name == "sk_model"
    assert int(clicked_run.version.version) == int(first_run.version.version) + 1


def test_the_host_command_trains_on_the_stack_with_the_env_file(
    stack: compose.ComposeStack, clicked_run: Materialization, host_version: ModelVersion
) -> None:
    """The main command on the host, with the first part of .env set, registers in the stack."""
    assert int(host_version.version) == int(clicked_run.version.version) + 1
    assert _bucket.model_files(_s3(stack), host_version) >= _bucket.MODEL_FILES


def test_the_host_run_links_to_no_dagster_ui_that_lacks_it(
    stack: compose.ComposeStack, host_version: ModelVersion
) -> None:
    """The host's run lives in the host's instance, not the stack's: its MLflow run names that
    instance instead of linking to the stack's UI, which would say "No run found"."""
    note = MlflowClient(stack.mlflow_url).get_run(host_version.run_id).data.tags
    description = note["mlflow.note.content"]
    assert "/runs/" not in description
    assert ".iris/dagster" in description


def test_s3_console_shows_the_model_files(
    stack: compose.ComposeStack, first_run: Materialization, chromium: Browser, artifacts_dir: Path
) -> None:
    """The SeaweedFS console, logged in with the S3 keys of .env, lists a model's files."""
    client = MlflowClient(stack.mlflow_url)
    experiment = client.get_run(first_run.version.run_id).info.experiment_id
    model_id = first_run.version.source.removeprefix("models:/")
    folder = f"/buckets/mlflow/{experiment}/models/{model_id}/artifacts"
    console = stack.url("S3_CONSOLE_HOST_PORT")
    with browser.page(chromium) as page:
        try:
            page.goto(f"{console}/login")
            page.fill("#username", stack.env["S3_ACCESS_KEY"])
            page.fill("#password", stack.env["S3_SECRET_KEY"])
            page.click("button[type=submit]")
            page.goto(f"{console}/files?path={folder}")
            page.get_by_text("model.skops", exact=True).wait_for()
        finally:
            page.screenshot(path=str(artifacts_dir / "compose-s3-console.png"))


def test_a_plain_down_removes_every_container(left_by_down: list[str]) -> None:
    """`docker compose down` as the README says it, no profile named: nothing keeps running (the
    model server behind a profile did, issue 22)."""
    assert left_by_down == []


def test_runs_registry_and_artifacts_survive_restart_and_down_up(
    stack: compose.ComposeStack, survivors: list[Materialization]
) -> None:
    """After `restart` and `down`/`up`, the volumes still hold runs, versions and model files."""
    for run in survivors:
        assert wait_for_run(stack.webserver_url, run.run_id, timeout=10) == "SUCCESS"
        assert _dagster_run(stack, run.run_id)[0] == "SUCCESS"
        found = registered_version(stack.mlflow_url, run.run_id)
        assert (found.name, found.version, found.source) == (
            run.version.name,
            run.version.version,
            run.version.source,
        )
        assert _bucket.model_files(_s3(stack), run.version) >= _bucket.MODEL_FILES


def test_a_third_run_after_down_up_registers_again(
    host_version: ModelVersion, third_run: Materialization
) -> None:
    """The stack that came back trains and registers the version after the last one."""
    assert int(third_run.version.version) == int(host_version.version) + 1


def test_logs_of_every_service_hold_no_secret(
    stack: compose.ComposeStack, third_run: Materialization
) -> None:
    """No password or key of .env appears in `docker compose logs` of any service."""
    logs = stack.logs()
    assert set(stack.states()) <= _services_that_logged(logs)
    for name, value in stack.secrets().items():
        assert value not in logs, f"{name} appears in docker compose logs"


def test_down_volumes_leaves_nothing_behind(
    stack: compose.ComposeStack, third_run: Materialization
) -> None:
    """`down --volumes` removes every container, network and volume of the project."""
    stack.down(volumes=True)
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}


def _services_that_logged(logs: str) -> set[str]:
    """Services with a line in `docker compose logs` ("<service>-<n>  | ...")."""
    return {line.split(" ", 1)[0].rsplit("-", 1)[0] for line in logs.splitlines() if " | " in line}
