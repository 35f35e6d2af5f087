"""`iris-assets serve` as a process against the MLflow tracking server: up before any champion,
then the champion over HTTP, following the alias in place, one process throughout."""

import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psutil
import pytest
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from iris_assets_tests import _bucket
from iris_assets_tests._graph import run_graph
from iris_assets_tests.end_to_end._serving import (
    CLI,
    SETOSA,
    VIRGINICA,
    Answer,
    RequestLoop,
    ask,
    body,
    predict,
    wait_for_line,
)
from iris_devstack.ports import free_port
from iris_devstack.processes import background_process, wait_for_http
from iris_devstack.service_env import environ_without_services

MODEL, ALIAS = "served_model", "champion"
URI = f"models:/{MODEL}@{ALIAS}"
POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Served:
    """The server of this module, and what it answered before any champion existed."""

    url: str
    log: Path
    process: subprocess.Popen[bytes]
    before: Mapping[str, Answer]


@pytest.fixture(scope="module")
def served(
    graph_resources: Mapping[str, object],
    mlflow_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    """`iris-assets serve` started before the graph ever ran for its model (as `docker compose
    up` starts it), asked then, and left running while a run makes the first champion."""
    workdir = tmp_path_factory.mktemp("serving")
    url = f"http://127.0.0.1:{free_port()}"
    log = workdir / "serve.log"
    port = url.rsplit(":", 1)[1]
    command = [CLI, "serve", "--model-name", MODEL, "--port", port, "--poll", str(POLL_SECONDS)]
    env = {**environ_without_services(), "MLFLOW_TRACKING_URI": mlflow_server}
    with background_process(command, log, env, workdir) as server:
        wait_for_http(f"{url}/health", 180, server)
        wait_for_line(log, f"Not serving {URI} yet", 60)
        before = {
            "health": ask(url, "/health"),
            "ping": ask(url, "/ping"),
            "invocations": ask(url, "/invocations", body([SETOSA])),
        }
        ops = {"registered_model": {"model_name": MODEL}}
        assert run_graph(graph_resources, dg.DagsterInstance.ephemeral(), ops=ops).success
        wait_for_http(f"{url}/ping", 120, server)
        yield Served(url, log, server, before)


def _champion(mlflow_server: str) -> ModelVersion:
    return MlflowClient(mlflow_server).get_model_version_by_alias(MODEL, ALIAS)


def test_before_a_champion_the_process_is_up_and_ping_says_why(
    served: Served, mlflow_server: str
) -> None:
    """/health answers 200 at once, so Compose's `up --wait` and Kubernetes' liveness probe
    never wait for a champion; /ping and /invocations answer 503 with the reason, naming the
    store."""
    assert (served.before["health"].status, served.before["health"].body) == (200, {"status": "up"})
    reason = (
        f"Not serving {URI} yet: the MLflow tracking server {mlflow_server} "
        f"(MLFLOW_TRACKING_URI from the environment) has no registered model named {MODEL!r}"
    )
    for name in ("ping", "invocations"):
        answer = served.before[name]
        assert answer.status == 503, answer
        assert answer.body["error_code"] == "TEMPORARILY_UNAVAILABLE"
        assert answer.body["message"].startswith(reason), answer.body
        assert answer.version is None


def test_the_first_champion_serves_without_a_restart(served: Served, mlflow_server: str) -> None:
    """The run's champion answers the README's request in the process that was already up, and
    /version says which version that is and where it came from."""
    champion = _champion(mlflow_server)
    assert predict(served.url, [SETOSA, VIRGINICA]) == [0, 2]
    answer = ask(served.url, "/invocations", body([SETOSA]))
    assert (answer.status, answer.version) == (200, champion.version)
    described = ask(served.url, "/version").body
    assert (described["name"], described["alias"]) == (MODEL, ALIAS)
    assert (described["version"], described["run_id"]) == (champion.version, champion.run_id)
    assert described["loaded_at"]
    assert f"Serving {URI} (version {champion.version})" in served.log.read_text()
    assert psutil.Process(served.process.pid).children(recursive=True) == []


def test_zero_rows_answer_400_in_json_without_a_stack_trace(served: Served) -> None:
    """MLflow's own server answers this with a Python stack trace in the body."""
    answer = ask(served.url, "/invocations", body([]))
    assert answer.status == 400
    assert set(answer.body) == {"error_code", "message"}
    assert "Found array with 0 sample(s)" in answer.body["message"]
    assert answer.version is not None


def test_no_request_fails_while_the_alias_moves_three_times(
    served: Served, mlflow_server: str
) -> None:
    """A client sends requests back to back while the alias moves to three new versions: every
    request is answered, and the answers' X-Model-Version follows the alias, never back."""
    client = MlflowClient(mlflow_server)
    first = _champion(mlflow_server)
    ask(served.url, "/invocations", body([SETOSA]))  # the current version answers already
    model_id = first.source.removeprefix("models:/")
    copies = [
        client.create_model_version(MODEL, first.source, first.run_id, model_id=model_id)
        for _ in range(3)
    ]
    with RequestLoop(served.url, max_requests=50_000, max_seconds=240) as loop:
        loop.wait_for_version(first.version, 30)
        for copy in copies:
            client.set_registered_model_alias(MODEL, ALIAS, copy.version)
            loop.wait_for_version(copy.version, 60)
    assert loop.failed() == []
    assert loop.versions() == [first.version, *(copy.version for copy in copies)]
    assert served.log.read_text().count("in place of version") >= 3
    print(f"\n{len(loop.sent)} requests across three promotions, none failed")


def test_a_version_that_cannot_load_never_takes_traffic(
    served: Served, mlflow_server: str, s3_client
) -> None:
    """The alias moved by hand to a version whose files were deleted from the store: the old
    version answers on, /version and the log (once) name the failure."""
    client = MlflowClient(mlflow_server)
    serving = _champion(mlflow_server)
    broken = _version_whose_files_are_gone(client, s3_client, serving)
    client.set_registered_model_alias(MODEL, ALIAS, broken.version)
    try:
        failed = _wait_for_failed_load(served.url, broken.version, 60)
        with RequestLoop(served.url, max_requests=5_000, max_seconds=60) as loop:
            time.sleep(POLL_SECONDS * 6)  # six more looks at the alias, each failing again
        assert {sent.version for sent in loop.sent} == {serving.version}
        assert loop.sent and loop.failed() == []
        assert failed["version"] == serving.version
        assert failed["last_failed_load"]["error"].startswith("it does not load: ")
        assert failed["waiting"].startswith(f"version {broken.version} failed to load or predict")
        assert ask(served.url, "/ping").status == 200
        said = (
            f"Still serving version {serving.version} of {URI}: version {broken.version} failed "
            "to load or predict: it does not load"
        )
        assert served.log.read_text().count(said) == 1
    finally:
        client.set_registered_model_alias(MODEL, ALIAS, serving.version)


def _version_whose_files_are_gone(
    client: MlflowClient, s3_client, of: ModelVersion
) -> ModelVersion:
    """A new version of its own files (a copy of `of`'s, under its run's artifacts), registered,
    then its files deleted from the S3 store."""
    run = client.get_run(of.run_id)
    experiment = run.info.experiment_id
    model_id = of.source.removeprefix("models:/")
    model_files = [
        key for key in _bucket.keys(s3_client) if f"/models/{model_id}/artifacts/" in key
    ]
    copies = [
        f"{experiment}/{of.run_id}/artifacts/gone/{key.rsplit('/artifacts/', 1)[1]}"
        for key in model_files
    ]
    for key, copy in zip(model_files, copies, strict=True):
        s3_client.copy_object(
            Bucket="mlflow", Key=copy, CopySource={"Bucket": "mlflow", "Key": key}
        )
    version = client.create_model_version(MODEL, f"{run.info.artifact_uri}/gone", of.run_id)
    for copy in copies:
        s3_client.delete_object(Bucket="mlflow", Key=copy)
    return version


def _wait_for_failed_load(url: str, version: str, timeout: float) -> dict:
    """/version once it names a failed load of `version`."""
    deadline = time.monotonic() + timeout
    while True:
        described = ask(url, "/version").body
        failed = described["last_failed_load"]
        if failed and failed["version"] == version:
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"/version named no failed load of {version}: {described}")
        time.sleep(0.2)
