"""An MLflow tracking server for the stack: SQL backend store, artifacts proxied to S3.

Clients reach S3 only through the server (`--serve-artifacts`), as against the Compose stack's
server, so only the server holds the S3 keys.
"""

import os
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from iris_devstack.ports import free_port
from iris_devstack.processes import background_process, wait_for_http

_START_TIMEOUT = 180.0  # the first start runs every Alembic migration on PostgreSQL


def s3_environ(endpoint: str, access_key: str, secret_key: str) -> dict[str, str]:
    """The variables with which MLflow (server or client) writes to an S3 store."""
    return {
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
    }


def mlflow_server_args(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str,
    port: int,
    allowed_hosts: list[str],
    clients_write_artifacts: bool = False,
) -> list[str]:
    """The arguments of `mlflow` that start the tracking server, as `tracking_server` passes them.

    A function of its own so the deployment tests can check docker-compose.yaml's `mlflow-server`
    uses the same options as the server the suite starts. With `clients_write_artifacts` the
    server proxies nothing: clients write to `artifacts_destination` with S3 keys of their own.
    """
    artifacts = (
        ["--no-serve-artifacts", "--default-artifact-root", artifacts_destination]
        if clients_write_artifacts
        else ["--serve-artifacts", "--artifacts-destination", artifacts_destination]
    )
    return [
        "server",
        "--backend-store-uri",
        backend_store_uri,
        *artifacts,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
        "--allowed-hosts",
        ",".join(allowed_hosts),
    ]


@contextmanager
def tracking_server(
    workdir: Path,
    backend_store_uri: str,
    artifacts_destination: str,
    env: dict[str, str],
    clients_write_artifacts: bool = False,
) -> Iterator[str]:
    """Run `mlflow server` with a SQL backend and proxied artifacts, yield its base URL.

    Artifacts go through the server (`--serve-artifacts`), so only the server needs the S3
    settings passed in `env`; clients need none (unless `clients_write_artifacts`). One uvicorn
    worker and no job runner (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false) keep memory small.
    Host-header validation only allows 127.0.0.1:<port> and localhost:<port>.
    """
    _check_postgres_reachable(backend_store_uri)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix=f"mlflow-{port}-", dir=workdir))
    args = [
        sys.executable,
        "-m",
        "mlflow",
        *mlflow_server_args(
            backend_store_uri,
            artifacts_destination,
            host="127.0.0.1",
            port=port,
            allowed_hosts=[f"127.0.0.1:{port}", f"localhost:{port}"],
            clients_write_artifacts=clients_write_artifacts,
        ),
    ]
    server_env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    with background_process(args, root / "mlflow.log", server_env, cwd=root) as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/health", _START_TIMEOUT, process)
        yield url


def _check_postgres_reachable(backend_store_uri: str) -> None:
    """Fail fast on a bad PostgreSQL backend URI.

    `mlflow server` retries the initial connection ten times with exponential backoff, so a
    wrong URI would otherwise surface only after about 100 seconds.
    """
    parts = urllib.parse.urlsplit(backend_store_uri)
    dialect = parts.scheme.split("+", 1)[0]
    if dialect not in ("postgresql", "postgres"):
        return
    libpq_url = urllib.parse.urlunsplit(parts._replace(scheme="postgresql"))
    try:
        psycopg.connect(libpq_url, connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"MLflow backend store {backend_store_uri!r} is unreachable: {exc}"
        ) from exc
