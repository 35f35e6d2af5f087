"""docker-compose.yaml's project services as local processes, and the webserver's GraphQL API.

Each service that runs the project image (but the MLflow server) is started with the command,
flags and environment variable names of its Compose definition; only addresses change: service
names become 127.0.0.1, container ports free local ports, the image's DAGSTER_HOME a temporary
copy of deploy/dagster_home/. Services are started in `depends_on` order and waited for with
their own Compose health checks. PostgreSQL, S3 and the MLflow server come from the suite's
fixtures instead of containers.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from mlflow.entities.model_registry import ModelVersion
from mlflow.tracking import MlflowClient
from psycopg.conninfo import conninfo_to_dict

from iris_assets_tests import _services
from iris_assets_tests.deploy import _compose

NATIVE_SERVICES = (
    "data-seed",
    "data-generator",
    "iris-assets-code",
    "dagster-webserver",
    "dagster-daemon",
)
"""Services run as processes here; the others are databases, S3 and MLflow (the suite's own)."""

START_TIMEOUT = 180.0
ONE_SHOT_TIMEOUT = 120.0
RUN_TIMEOUT = 300.0
_TERMINAL_RUN_STATUSES = {"SUCCESS", "FAILURE", "CANCELED"}
_HOST_OPTIONS = ("-h", "--host")
_PORT_OPTIONS = ("-p", "--port")
_WORKSPACE_OPTIONS = ("-w", "--workspace")
_VENV_BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class NativeStack:
    """Where the running services are, for the tests to talk to and look into."""

    webserver_url: str
    dagster_home: Path
    storage_url: str
    iris_database_url: str
    generator_database_url: str
    mlflow_url: str
    logs: Path
    args: Mapping[str, list[str]]
    pids: Mapping[str, int]
    """Each service's first process, leader of its process group (data-seed's has exited)."""
    values: Mapping[str, str]
    """The local value of each variable the services read (the data generator's database aside)."""


@dataclass(frozen=True)
class _Translation:
    """How the container world of the compose file maps onto this machine."""

    services: Mapping[str, Any]
    container_home: str
    native_home: Path
    container_ports: Mapping[str, int]
    native_ports: Mapping[str, int]

    def args(self, service: str, args: list[str]) -> list[str]:
        """A command or health check of `service` with local addresses and paths."""
        translated: list[str] = []
        for index, arg in enumerate(args):
            previous = args[index - 1] if index else None
            if previous in _HOST_OPTIONS:
                arg = "127.0.0.1"
            elif previous in _PORT_OPTIONS:
                if int(arg) != self.container_ports.get(service):
                    raise ValueError(f"{service}: {args} uses port {arg}, not its own")
                arg = str(self.native_ports[service])
            elif arg.startswith(self.container_home):
                arg = str(self.native_home) + arg.removeprefix(self.container_home)
            elif service in self.container_ports:
                container, local = self.container_ports[service], self.native_ports[service]
                arg = re.sub(rf"//localhost:{container}\b", f"//127.0.0.1:{local}", arg)
            translated.append(arg)
        executable = shutil.which(translated[0], path=str(_VENV_BIN))
        if executable is None:
            raise FileNotFoundError(f"{translated[0]} ({service}) is not in {_VENV_BIN}")
        return [executable, *translated[1:]]

    def environment(
        self, service: str, raw_environment: Mapping[str, str], values: Mapping[str, str]
    ) -> dict[str, str]:
        """The service's variables, by the compose file's names, with local values.

        A name this machine has no value for is an error, unless its compose value is a plain
        constant (no interpolation, no service name), which is kept as it is.
        """
        env = {name: value for name, value in os.environ.items() if not _is_service_setting(name)}
        env["PYTHONUNBUFFERED"] = "1"  # as the image sets it
        for name, raw in raw_environment.items():
            if name in values:
                env[name] = values[name]
            elif "$" not in raw and not any(other in raw for other in self.services):
                env[name] = raw
            else:
                raise KeyError(f"no local value for {name} of {service} ({raw!r})")
        return env


def _is_service_setting(name: str) -> bool:
    """Whether an inherited variable could configure a service (so must not leak into one)."""
    return name.startswith(("DAGSTER_", "IRIS_", "MLFLOW_", "AWS_", "PG", "POSTGRES_", "MINIO_"))


@contextmanager
def native_stack(
    workdir: Path,
    compose: Mapping[str, Any],
    values: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, str]],
    urls: Mapping[str, str],
) -> Iterator[NativeStack]:
    """Start NATIVE_SERVICES of the compose file; stop every process on exit.

    `compose` is the interpolated file. `values` gives the local value of each variable name the
    services use, `overrides` those that differ for one service; `urls` names the databases and
    the MLflow server behind them.
    """
    services = compose["services"]
    container_home = _compose.environment(services["iris-assets-code"])["DAGSTER_HOME"]
    native_home = workdir / "dagster_home"
    shutil.copytree(_compose.DAGSTER_HOME_DIR, native_home)
    container_ports = {
        name: int(port)
        for name in NATIVE_SERVICES
        if (port := _compose.option(_compose.command(services[name]), *_PORT_OPTIONS))
    }
    translation = _Translation(
        services=services,
        container_home=container_home,
        native_home=native_home,
        container_ports=container_ports,
        native_ports={name: _services.free_port() for name in container_ports},
    )
    logs = workdir / "logs"
    cwd = workdir / "app"  # the image's WORKDIR: nothing of the checkout in it
    cwd.mkdir()
    commands = {
        name: translation.args(name, _compose.command(services[name])) for name in NATIVE_SERVICES
    }
    workspaces = {_compose.option(args, *_WORKSPACE_OPTIONS) for args in commands.values()}
    for workspace in workspaces - {None}:
        _point_workspace_here(Path(str(workspace)), translation)
    raw_services = _compose.load_raw()["services"]  # values as written: ${...} not yet replaced
    environments = {
        name: translation.environment(
            name,
            _compose.environment(raw_services[name]),
            {**values, **overrides.get(name, {})},
        )
        for name in NATIVE_SERVICES
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    ready: set[str] = set()

    def ensure(name: str, condition: str) -> None:
        if name in ready:
            return
        if condition == "service_completed_successfully":
            _wait_for_exit(processes[name], logs / f"{name}.log")
        else:
            check = services[name]["healthcheck"]["test"]
            if check[0] != "CMD":
                raise ValueError(f"{name}: only CMD health checks run here, not {check[0]}")
            _services.wait_for_command(
                translation.args(name, check[1:]),
                environments[name],
                cwd,
                START_TIMEOUT,
                processes[name],
            )
        ready.add(name)

    with ExitStack() as stack:
        for name in _start_order(services):
            for dependency, spec in (services[name].get("depends_on") or {}).items():
                if dependency in NATIVE_SERVICES:
                    ensure(dependency, spec["condition"])
            processes[name] = stack.enter_context(
                _services.background_process(
                    commands[name], logs / f"{name}.log", environments[name], cwd
                )
            )
        for name in NATIVE_SERVICES:
            if "healthcheck" in services[name]:
                ensure(name, "service_healthy")
        yield NativeStack(
            webserver_url=f"http://127.0.0.1:{translation.native_ports['dagster-webserver']}",
            dagster_home=native_home,
            storage_url=urls["storage"],
            iris_database_url=urls["iris"],
            generator_database_url=urls["generator"],
            mlflow_url=urls["mlflow"],
            logs=logs,
            args=commands,
            pids={name: process.pid for name, process in processes.items()},
            values=dict(values),
        )


@contextmanager
def local_stack(
    workdir: Path, compose: Mapping[str, Any], postgres_server_url: str, mlflow_url: str
) -> Iterator[NativeStack]:
    """Code server, webserver, daemon, seed job and data generator of the compose file, running.

    Databases of their own on the PostgreSQL of `postgres_server_url` stand in for
    postgres-server and dagster-storage; they are dropped on exit. The generator writes to a
    third one: in the stack it adds a random row a second to the training table, which would
    make what the model scores depend on timing. `mlflow_url` is a running tracking server.
    """
    suffix = uuid.uuid4().hex[:12]
    with (
        _services.postgres_database(postgres_server_url, f"iris_deploy_{suffix}") as iris_url,
        _services.postgres_database(postgres_server_url, f"iris_gen_{suffix}") as generator_url,
        _services.postgres_database(postgres_server_url, f"dagster_{suffix}") as storage_url,
    ):
        storage = conninfo_to_dict(storage_url)
        host = str(storage.get("host", ""))
        if not host or host.startswith("/"):
            raise RuntimeError(f"Dagster's storage needs PostgreSQL over TCP, not {host!r}")
        values = {
            "DAGSTER_HOME": str(workdir / "dagster_home"),
            "DAGSTER_PG_HOST": host,
            "DAGSTER_PG_PORT": str(storage.get("port") or 5432),
            "DAGSTER_PG_USER": str(storage.get("user") or "postgres"),
            # Required by dagster.yaml; a server with trust authentication ignores it.
            "DAGSTER_PG_PASSWORD": str(storage.get("password") or "unused"),
            "DAGSTER_PG_DB": str(storage["dbname"]),
            "IRIS_DATABASE_URL": iris_url,
            "MLFLOW_TRACKING_URI": mlflow_url,
        }
        with native_stack(
            workdir,
            compose,
            values,
            overrides={"data-generator": {"IRIS_DATABASE_URL": generator_url}},
            urls={
                "iris": iris_url,
                "generator": generator_url,
                "storage": storage_url,
                "mlflow": mlflow_url,
            },
        ) as running:
            yield running


def _start_order(services: Mapping[str, Any]) -> list[str]:
    """NATIVE_SERVICES with every one after the native services it depends on."""
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in order:
            return
        if name in path:
            raise ValueError(f"depends_on cycle: {' -> '.join((*path, name))}")
        for dependency in services[name].get("depends_on") or {}:
            if dependency in NATIVE_SERVICES:
                visit(dependency, (*path, name))
        order.append(name)

    for name in NATIVE_SERVICES:
        visit(name, ())
    return order


def _point_workspace_here(path: Path, translation: _Translation) -> None:
    """Aim the workspace's gRPC servers (compose service names) at the local code server."""
    workspace = yaml.safe_load(path.read_text())
    for location in workspace["load_from"]:
        server = location["grpc_server"]
        service = server["host"]
        if server["port"] != translation.container_ports.get(service):
            raise ValueError(f"{path}: {service}:{server['port']} is no code server of compose")
        server["host"] = "127.0.0.1"
        server["port"] = translation.native_ports[service]
    path.write_text(yaml.safe_dump(workspace))


def _wait_for_exit(process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait for a one-shot service; anything but exit code 0 fails with its output."""
    try:
        code = process.wait(ONE_SHOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    if code != 0:
        raise RuntimeError(
            f"{' '.join(map(str, process.args))} ended with {code}:\n{log.read_text()[-4000:]}"
        )


_ASSET_NODES = """
query MaterializableAssets {
  assetNodes {
    assetKey { path }
    isMaterializable
    repository { name location { name } }
  }
}
"""

_LAUNCH = """
mutation MaterializeAll($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PipelineConfigValidationInvalid { errors { message } }
    ... on Error { message }
  }
}
"""

_RUN_STATUS = """
query RunStatus($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { status }
    ... on Error { message }
  }
}
"""


def graphql(webserver_url: str, query: str, variables: Mapping[str, Any] | None = None) -> Any:
    """The `data` of a GraphQL request to the webserver; errors raise."""
    request = urllib.request.Request(
        f"{webserver_url}/graphql",
        data=json.dumps({"query": query, "variables": dict(variables or {})}).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:  # GraphQL errors come with a status of 4xx or 500
        with error:
            body = json.loads(error.read() or b"{}")
        body.setdefault("errors", [f"HTTP {error.code}"])
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def launch_materialize_all(webserver_url: str) -> str:
    """Launch what the UI's "Materialize all" launches: the asset job on every materializable asset.

    Returns the run id.
    """
    nodes = graphql(webserver_url, _ASSET_NODES)["assetNodes"]
    selected = [node for node in nodes if node["isMaterializable"]]
    repository = selected[0]["repository"]
    result = graphql(
        webserver_url,
        _LAUNCH,
        {
            "executionParams": {
                "selector": {
                    "repositoryLocationName": repository["location"]["name"],
                    "repositoryName": repository["name"],
                    "pipelineName": "__ASSET_JOB",
                    "assetSelection": [{"path": node["assetKey"]["path"]} for node in selected],
                },
                "mode": "default",
                "executionMetadata": {"tags": []},
            }
        },
    )["launchPipelineExecution"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launch failed: {result}")
    return result["run"]["runId"]


def wait_for_run(webserver_url: str, run_id: str, timeout: float = RUN_TIMEOUT) -> str:
    """Poll the run's status until it ends; returns SUCCESS, FAILURE or CANCELED."""
    deadline = time.monotonic() + timeout
    while True:
        result = graphql(webserver_url, _RUN_STATUS, {"runId": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise RuntimeError(f"run {run_id}: {result}")
        if result["status"] in _TERMINAL_RUN_STATUSES:
            return result["status"]
        if time.monotonic() >= deadline:
            raise TimeoutError(f"run {run_id} still {result['status']} after {timeout:.0f}s")
        time.sleep(1.0)


def registered_version(mlflow_url: str, dagster_run_id: str) -> ModelVersion:
    """The model version that the MLflow run tagged with `dagster_run_id` registered."""
    client = MlflowClient(mlflow_url)
    runs = client.search_runs(
        experiment_ids=[experiment.experiment_id for experiment in client.search_experiments()],
        filter_string=f"tags.`dagster.run_id` = '{dagster_run_id}'",
    )
    if len(runs) != 1:
        raise LookupError(f"{len(runs)} MLflow runs carry dagster.run_id {dagster_run_id}")
    versions = client.search_model_versions(f"run_id = '{runs[0].info.run_id}'")
    if len(versions) != 1:
        raise LookupError(f"MLflow run {runs[0].info.run_id} registered {len(versions)} versions")
    return versions[0]
