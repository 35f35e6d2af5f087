"""Broken services fail the run fast and clean, and the next run after a repair succeeds.

Each test stops (or misconfigures) a real service the suite controls, materializes the graph,
reads the error a user would read, checks that the registry holds nothing half-done, then
repairs the service and materializes again.
"""

import os
import socket
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import boto3
import dagster as dg
import psycopg
import pytest
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient

from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry
from iris_assets_tests import _bucket
from iris_assets_tests._graph import failure_text, run_graph
from iris_assets_tests.conftest import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY
from iris_devstack.mlflow_server import mlflow_server_args, s3_environ, tracking_server
from iris_devstack.ports import free_port
from iris_devstack.postgres import PostgresCluster, postgres_database
from iris_devstack.processes import background_process, wait_for_http
from iris_devstack.registry import versions
from iris_devstack.seaweedfs import seaweedfs_s3


class RestartableS3:
    """A SeaweedFS S3 store of these tests' own, stopped and brought back on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=S3_SECRET_KEY,
            region_name="us-east-1",
        )
        self._running = ExitStack()

    def start(self) -> None:
        self._running.enter_context(
            seaweedfs_s3(self.workdir, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET, s3_port=self.port)
        )

    def stop(self) -> None:
        self._running.close()

    def model_files(self, version: ModelVersion) -> set[str]:
        return _bucket.model_files(self.client, version, S3_BUCKET)


@pytest.fixture(scope="module")
def restartable_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableS3]:
    store = RestartableS3(tmp_path_factory.mktemp("s3_faults"))
    store.start()
    yield store
    store.stop()


class RestartableMlflow:
    """An `mlflow server` of these tests' own, on a fixed port, killed and restarted at will."""

    def __init__(self, workdir: Path, backend_store_uri: str, s3_endpoint: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.args = [
            sys.executable,
            "-m",
            "mlflow",
            *mlflow_server_args(
                backend_store_uri,
                f"s3://{S3_BUCKET}",
                host="127.0.0.1",
                port=self.port,
                allowed_hosts=[f"127.0.0.1:{self.port}"],
            ),
        ]
        self.env = {
            **os.environ,
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            **s3_environ(s3_endpoint, S3_ACCESS_KEY, S3_SECRET_KEY),
        }
        self._running = ExitStack()

    def start(self) -> None:
        process = self._running.enter_context(
            background_process(self.args, self.workdir / "mlflow.log", self.env, cwd=self.workdir)
        )
        wait_for_http(f"{self.url}/health", 180, process)

    def kill(self) -> None:
        self._running.close()


@pytest.fixture(scope="module")
def restartable_mlflow(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server_url: str,
    restartable_s3: RestartableS3,
) -> Iterator[RestartableMlflow]:
    name = f"iris_test_faults_{uuid.uuid4().hex[:8]}"
    with postgres_database(postgres_server_url, name) as backend:
        workdir = tmp_path_factory.mktemp("mlflow_faults")
        server = RestartableMlflow(workdir, backend, restartable_s3.endpoint)
        server.start()
        yield server
        server.kill()


def _run(
    database_url: str,
    tracking_uri: str,
    model_name: str,
    instance: dg.DagsterInstance | None = None,
) -> tuple[dg.ExecuteInProcessResult, float]:
    started = time.monotonic()
    result = run_graph(
        {
            "postgres": PostgresResource(database_url=database_url),
            "registry": ModelRegistry(tracking_uri=tracking_uri),
        },
        instance or dg.DagsterInstance.ephemeral(),
        ops={"registered_model": {"model_name": model_name}},
    )
    return result, time.monotonic() - started


def _run_while_down(
    stop: Callable[[], None],
    start: Callable[[], None],
    database_url: str,
    tracking_uri: str,
    model_name: str,
    failing_step: str,
) -> tuple[dg.ExecuteInProcessResult, str]:
    """Materialize with a service stopped, bring it back, and return the run and its error text."""
    stop()
    try:
        result, seconds = _run(database_url, tracking_uri, model_name)
    finally:
        start()
    attempts = _attempts(result, failing_step)
    print(
        f"\n{failing_step} with a service down: failed after {seconds:.1f} s, {attempts} attempts"
    )
    assert not result.success
    assert {e.step_key for e in result.get_step_failure_events()} == {failing_step}
    assert attempts == 3
    return result, failure_text(result)


def _attempts(result: dg.ExecuteInProcessResult, step: str) -> int:
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    return 1 + sum(1 for event in restarts if event.step_key == step)


def test_postgres_down_fails_then_recovers(
    password_cluster: PostgresCluster, mlflow_server: str
) -> None:
    """Stopped, the server makes iris_df fail after its retries, named; restarted, all works."""
    _, text = _run_while_down(
        password_cluster.stop,
        password_cluster.start,
        password_cluster.url,
        mlflow_server,
        "pg_down_model",
        failing_step="iris_df",
    )
    where = f"postgresql://postgres@127.0.0.1:{password_cluster.port}/postgres"
    assert f"Cannot connect to PostgreSQL at {where}" in text
    assert "check that the server is running" in text
    assert password_cluster.password not in text
    assert versions(mlflow_server, "pg_down_model") == []

    recovered, _ = _run(password_cluster.url, mlflow_server, "pg_down_model")
    assert recovered.success
    assert versions(mlflow_server, "pg_down_model") == [1]


def test_wrong_postgres_password_is_final(
    password_cluster: PostgresCluster, mlflow_server: str
) -> None:
    """Refused credentials fail at once, name the setting to fix, and never show the password."""
    wrong = password_cluster.url.replace(password_cluster.password, "not-the-password-5512")
    result, seconds = _run(wrong, mlflow_server, "pg_password_model")
    print(f"\nwrong PostgreSQL password: failed after {seconds:.1f} s")
    assert not result.success
    text = failure_text(result)
    assert (
        "refused the credentials: check the user and password in database_url of the postgres "
        "resource" in text
    )
    assert "not-the-password-5512" not in text and password_cluster.password not in text
    assert _attempts(result, "iris_df") == 1
    assert versions(mlflow_server, "pg_password_model") == []


def test_mlflow_server_down_fails_then_recovers(
    iris_database_url: str, restartable_mlflow: RestartableMlflow
) -> None:
    """With the server gone, registered_model fails naming it; back up, the next run registers."""
    _, text = _run_while_down(
        restartable_mlflow.kill,
        restartable_mlflow.start,
        iris_database_url,
        restartable_mlflow.url,
        "mlflow_down_model",
        failing_step="registered_model",
    )
    assert f"the MLflow tracking server at {restartable_mlflow.url} failed" in text
    assert "check that it is running and tracking_uri of the registry resource" in text

    recovered, _ = _run(iris_database_url, restartable_mlflow.url, "mlflow_down_model")
    assert recovered.success
    assert versions(restartable_mlflow.url, "mlflow_down_model") == [1]


def test_server_killed_inside_registered_model_leaves_nothing_half_done(
    iris_database_url: str, restartable_mlflow: RestartableMlflow, restartable_s3: RestartableS3
) -> None:
    """Killed while a run is open: no incomplete version, and the next run fails the orphan."""
    client = MlflowClient(restartable_mlflow.url)
    instance = dg.DagsterInstance.ephemeral()
    outcome: list[dg.ExecuteInProcessResult] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            _run(iris_database_url, restartable_mlflow.url, "killed_model", instance)[0]
        )
    )
    worker.start()
    try:
        orphan = _wait_for_running_run(client, worker)
        restartable_mlflow.kill()
        worker.join(timeout=300)
    finally:
        if not _answers(restartable_mlflow.url):
            restartable_mlflow.start()
    (interrupted,) = outcome
    assert not interrupted.success
    assert client.get_run(orphan).info.status == "RUNNING"  # the server never heard the end

    recovered, _ = _run(iris_database_url, restartable_mlflow.url, "killed_model", instance)
    assert recovered.success
    assert client.get_run(orphan).info.status == "FAILED"
    experiments = [e.experiment_id for e in client.search_experiments()]
    assert client.search_runs(experiments, "attributes.status = 'RUNNING'") == []
    for version in client.search_model_versions("name='killed_model'"):
        files = restartable_s3.model_files(version)
        assert files >= _bucket.MODEL_FILES, version.version


def test_s3_down_fails_the_run_and_registers_nothing(
    iris_database_url: str, restartable_mlflow: RestartableMlflow, restartable_s3: RestartableS3
) -> None:
    """With the artifact store down the run fails, ended FAILED; back up, the next one registers."""
    client = MlflowClient(restartable_mlflow.url)
    result, text = _run_while_down(
        restartable_s3.stop,
        restartable_s3.start,
        iris_database_url,
        restartable_mlflow.url,
        "s3_down_model",
        failing_step="registered_model",
    )
    assert f"the artifact store behind the MLflow server at {restartable_mlflow.url} failed" in text
    assert "--artifacts-destination" in text
    assert versions(restartable_mlflow.url, "s3_down_model") == []
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, "tags.`dagster.run_id` = '" + result.run_id + "'")
    assert len(runs) == 3
    assert {run.info.status for run in runs} == {"FAILED"}

    recovered, _ = _run(iris_database_url, restartable_mlflow.url, "s3_down_model")
    assert recovered.success
    (version,) = client.search_model_versions("name='s3_down_model'")
    assert restartable_s3.model_files(version) >= _bucket.MODEL_FILES


def _wait_for_running_run(client: MlflowClient, worker: threading.Thread) -> str:
    """The id of the first RUNNING run, as soon as registered_model opens it."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and worker.is_alive():
        experiments = [e.experiment_id for e in client.search_experiments()]
        running = client.search_runs(experiments, "attributes.status = 'RUNNING'")
        if running:
            return running[0].info.run_id
        time.sleep(0.05)
    raise AssertionError("registered_model never opened an MLflow run")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def direct_s3_mlflow(
    tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, s3_endpoint: str
) -> Iterator[str]:
    """An MLflow server that leaves artifacts to its clients: they write to S3 with their keys."""
    name = f"iris_test_direct_{uuid.uuid4().hex[:8]}"
    with (
        postgres_database(postgres_server_url, name) as backend,
        tracking_server(
            tmp_path_factory.mktemp("mlflow_direct_s3"),
            backend_store_uri=backend,
            artifacts_destination=f"s3://{S3_BUCKET}/direct",
            env={},
            clients_write_artifacts=True,
        ) as url,
    ):
        yield url


def _direct_s3_resources(database_url: str, tracking_uri: str, s3_endpoint: str, secret: str):
    return {
        "postgres": PostgresResource(database_url=database_url),
        "registry": ModelRegistry(
            tracking_uri=tracking_uri,
            s3_endpoint_url=s3_endpoint,
            aws_access_key_id=S3_ACCESS_KEY,
            aws_secret_access_key=secret,
        ),
    }


def test_client_side_s3_with_its_keys_then_a_wrong_key(
    iris_database_url: str, direct_s3_mlflow: str, s3_endpoint: str, s3_client
) -> None:
    """With the resource's S3 keys the model lands in S3; a wrong secret fails, named, at once."""
    ops = {"registered_model": {"model_name": "direct_s3_model"}}
    good = run_graph(
        _direct_s3_resources(iris_database_url, direct_s3_mlflow, s3_endpoint, S3_SECRET_KEY),
        dg.DagsterInstance.ephemeral(),
        ops=ops,
    )
    assert good.success
    keys = [
        o["Key"] for o in s3_client.list_objects_v2(Bucket=S3_BUCKET, Prefix="direct/")["Contents"]
    ]
    assert any(key.endswith("/artifacts/model.skops") for key in keys)

    wrong = "wrong-s3-secret-2290"
    bad = run_graph(
        _direct_s3_resources(iris_database_url, direct_s3_mlflow, s3_endpoint, wrong),
        dg.DagsterInstance.ephemeral(),
        ops=ops,
    )
    assert not bad.success
    text = failure_text(bad)
    assert f"the S3 artifact store at {s3_endpoint} failed" in text
    assert (
        "check s3_endpoint_url, aws_access_key_id and aws_secret_access_key of the registry "
        "resource" in text
    )
    assert wrong not in text
    assert _attempts(bad, "registered_model") == 1
    assert versions(direct_s3_mlflow, "direct_s3_model") == [1]


# Waits that never end on their own: each must be bounded, named, final and leave nothing behind.


@contextmanager
def _black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers, as a wedged proxy or a stuck server:
    the kernel completes each handshake into the backlog, and nothing ever reads or replies."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        yield listener.getsockname()[1]


def _fails_alone(result: dg.ExecuteInProcessResult, step: str, seconds: float, bound: float):
    """The run failed at `step`, once, within `bound` seconds; its error text."""
    print(f"\n{step}: failed after {seconds:.1f} s (bound {bound:.0f} s)")
    assert not result.success
    assert {e.step_key for e in result.get_step_failure_events()} == {step}
    assert _attempts(result, step) == 1
    assert seconds < bound
    return failure_text(result)


def test_a_held_lock_on_iris_data_fails_iris_df_within_lock_timeout(
    iris_database_url: str, mlflow_server: str
) -> None:
    """A session holding ACCESS EXCLUSIVE on iris_data (a migration): iris_df gives up after
    lock_timeout_seconds (30), naming the table, the wait, the setting and who holds the lock."""
    password = "pw-lock-test-3371"
    url = iris_database_url.replace("://postgres@", f"://postgres:{password}@")
    with psycopg.connect(iris_database_url, application_name="schema-migration") as holder:
        holder.execute("LOCK TABLE iris_data IN ACCESS EXCLUSIVE MODE")
        result, seconds = _run(url, mlflow_server, "locked_model")
    limit = PostgresResource().lock_timeout_seconds
    text = _fails_alone(result, "iris_df", seconds, bound=limit + 20)
    assert f"gave up after waiting {limit} s for a lock" in text
    assert "AccessExclusiveLock on iris_data held by pid" in text
    assert "application schema-migration" in text
    assert "raise lock_timeout_seconds of the postgres resource" in text
    assert password not in text
    assert versions(mlflow_server, "locked_model") == []


def test_a_postgres_server_that_never_answers_fails_within_its_bound(mlflow_server: str) -> None:
    """Connections accepted, never answered: iris_df fails after connect_timeout_seconds (10) per
    attempt, three attempts, naming the server and not its password."""
    with _black_hole() as port:
        url = f"postgresql://iris:pw-black-hole-6620@127.0.0.1:{port}/iris"
        result, seconds = _run(url, mlflow_server, "silent_pg_model")
    text = failure_text(result)
    print(f"\niris_df against a silent PostgreSQL: failed after {seconds:.1f} s")
    assert not result.success
    assert {e.step_key for e in result.get_step_failure_events()} == {"iris_df"}
    assert _attempts(result, "iris_df") == 3
    assert seconds < 3 * PostgresResource().connect_timeout_seconds + 20
    assert f"Cannot connect to PostgreSQL at postgresql://iris@127.0.0.1:{port}/iris" in text
    assert "timeout" in text
    assert "pw-black-hole-6620" not in text
    assert versions(mlflow_server, "silent_pg_model") == []


def test_an_mlflow_server_that_never_answers_fails_within_the_deadline(
    iris_database_url: str,
) -> None:
    """A tracking server that accepts and never answers: registered_model fails once, within the
    deadline (120 s), naming the server and what it waited for, never its credentials."""
    with _black_hole() as port:
        tracking_uri = f"http://iris:pw-mlflow-hole-8841@127.0.0.1:{port}"
        result, seconds = _run(iris_database_url, tracking_uri, "silent_mlflow_model")
    deadline = ModelRegistry().deadline_seconds
    text = _fails_alone(result, "registered_model", seconds, bound=deadline + 30)
    assert f"MLflow tracking server at http://127.0.0.1:{port}" in text
    assert "/api/2.0/mlflow/" in text or "did not finish" in text
    assert "pw-mlflow-hole-8841" not in text


def test_a_hung_artifact_store_behind_the_server_fails_within_the_deadline(
    iris_database_url: str, postgres_server_url: str, tmp_path: Path
) -> None:
    """The server answers, the S3 store behind it never does: registered_model fails once,
    within the deadline, and no version is registered."""
    with (
        _black_hole() as port,
        postgres_database(
            postgres_server_url, f"iris_test_hung_s3_{uuid.uuid4().hex[:8]}"
        ) as backend,
        tracking_server(
            tmp_path,
            backend_store_uri=backend,
            artifacts_destination=f"s3://{S3_BUCKET}",
            env=s3_environ(f"http://127.0.0.1:{port}", S3_ACCESS_KEY, S3_SECRET_KEY),
        ) as tracking_uri,
    ):
        result, seconds = _run(iris_database_url, tracking_uri, "hung_store_model")
        registered = versions(tracking_uri, "hung_store_model")
    deadline = ModelRegistry().deadline_seconds
    text = _fails_alone(result, "registered_model", seconds, bound=deadline + 30)
    assert tracking_uri in text
    assert S3_SECRET_KEY not in text
    assert registered == []
