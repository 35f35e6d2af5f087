"""Real services for the suite, each started once per session.

PostgreSQL is the machine's server on 127.0.0.1:5432 (CI has one) or, where none answers, an
embedded pgserver; each test module that writes gets a database of its own, dropped afterwards.
The S3 store (SeaweedFS) and the MLflow tracking server are started here, through iris_devstack
as the benchmarks start them, and stopped at the end.
"""

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from iris_assets import iris_table
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry
from iris_devstack.mlflow_server import s3_environ, tracking_server
from iris_devstack.postgres import PostgresCluster, postgres_database, shared_server_url
from iris_devstack.seaweedfs import seaweedfs_s3
from iris_devstack.service_env import SERVICE_VARIABLES

S3_ACCESS_KEY = "iris-test-access"
S3_SECRET_KEY = "iris-test-secret-key"
S3_BUCKET = "mlflow"
CLUSTER_PASSWORD = "pg-cluster-secret-8841"
DATABASE_PASSWORD = "pg-database-secret-3307"
"""In the URL of every database a test gets: the shared server trusts local connections and
ignores it, but every test that checks a password is never shown has one to look for."""

SERVICE_FIXTURES = frozenset(
    {
        # PostgreSQL: the machine's server or pgserver, and every database made on it.
        "postgres_server_url",
        "empty_database_url",
        "iris_database_url",
        # The embedded defaults: any read of the database starts pgserver under IRIS_HOME.
        "embedded_home",
        "embedded_env",
        # SeaweedFS, the MLflow tracking server and the password-protected cluster.
        "s3_endpoint",
        "s3_client",
        "mlflow_server",
        "password_cluster",
    }
)
"""The fixtures below, which start or need a running service: a test that uses one (directly or
through another fixture) is an integration test."""

END_TO_END = Path(__file__).parent / "end_to_end"
"""The README's commands, the real stack, faults, secrets, concurrency and Compose, as users run
them: the top of the pyramid, in a folder of its own."""


def _layer(item: pytest.Item) -> str:
    if END_TO_END in item.path.parents:
        return "end_to_end"
    if not SERVICE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
        return "integration"
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with its layer, so `-m unit` runs the pure code's tests alone.

    The layer follows from where the test lives and what it uses, never from a hand-set marker:
    a new test lands in its layer by itself.
    """
    for item in items:
        item.add_marker(getattr(pytest.mark, _layer(item)))


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch):
    """A unit test that starts a process (a CLI, a server) would make the quick layer slow and
    depend on the machine: it fails, saying where such a test belongs."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(self: subprocess.Popen, args: object, *rest: object) -> None:
        raise RuntimeError(
            f"a unit test starts no process ({args!r}): use a service fixture of "
            "iris_assets_tests/conftest.py (integration) or move the test to end_to_end/"
        )

    monkeypatch.setattr(subprocess.Popen, "_execute_child", refuse)


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server that allows CREATE DATABASE, reached over TCP where one answers."""
    url = shared_server_url()
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            raise
        import pgserver

        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
        yield server.get_uri()
        server.cleanup()
        return
    yield url


def _database(server_url: str) -> Iterator[str]:
    name = f"iris_test_{uuid.uuid4().hex[:12]}"
    with postgres_database(server_url, name, password=DATABASE_PASSWORD) as url:
        yield url


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """An empty database of this test's own."""
    yield from _database(postgres_server_url)


@pytest.fixture(scope="module")
def iris_database_url(postgres_server_url: str) -> Iterator[str]:
    """A database of this module's own whose `iris_data` holds the 150 iris rows."""
    for url in _database(postgres_server_url):
        with psycopg.connect(url, autocommit=True) as conn:
            iris_table.seed(conn)
        yield url


@pytest.fixture(scope="session")
def embedded_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One IRIS_HOME for the session, so the embedded PostgreSQL is initialised once."""
    return tmp_path_factory.mktemp("iris_home")


@pytest.fixture
def embedded_env(embedded_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No service configured: the embedded defaults under a temporary IRIS_HOME are in use."""
    for name in SERVICE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IRIS_HOME", str(embedded_home))
    return embedded_home


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3 API (SeaweedFS) with the MLflow bucket."""
    workdir = tmp_path_factory.mktemp("seaweedfs")
    with seaweedfs_s3(workdir, S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def mlflow_server(
    tmp_path_factory: pytest.TempPathFactory, postgres_server_url: str, s3_endpoint: str
) -> Iterator[str]:
    """A real `mlflow server` over HTTP: backend store in PostgreSQL, artifacts proxied to S3."""
    workdir = tmp_path_factory.mktemp("mlflow")
    name = f"iris_test_mlflow_{uuid.uuid4().hex[:12]}"
    with (
        postgres_database(postgres_server_url, name) as backend_url,
        tracking_server(
            workdir,
            backend_store_uri=backend_url,
            artifacts_destination=f"s3://{S3_BUCKET}",
            env=s3_environ(s3_endpoint, S3_ACCESS_KEY, S3_SECRET_KEY),
        ) as url,
    ):
        yield url


@pytest.fixture(scope="module")
def graph_resources(
    iris_database_url: str, mlflow_server: str
) -> dict[str, PostgresResource | ModelRegistry]:
    """The graph's resources on this module's seeded database and the suite's MLflow server."""
    return {
        "postgres": PostgresResource(database_url=iris_database_url),
        "registry": ModelRegistry(tracking_uri=mlflow_server),
    }


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str):
    """A boto3 client on the test S3 store, to look at what the server wrote."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        region_name="us-east-1",
    )


@pytest.fixture(scope="session")
def password_cluster() -> Iterator[PostgresCluster]:
    """A PostgreSQL with password authentication, seeded, that fault tests stop and start."""
    cluster = PostgresCluster(CLUSTER_PASSWORD)
    cluster.start()
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        iris_table.seed(conn)
    yield cluster
    cluster.remove()
