"""The deployment's files, and its Dagster services running natively, shared by this package.

The native stack starts once for the package (parity test and browser test share it) and is
stopped before the rest of the suite runs.
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from iris_assets_tests import _services
from iris_assets_tests.deploy import _compose
from iris_assets_tests.deploy._native import NativeStack, native_stack


@pytest.fixture(scope="package")
def env_example() -> dict[str, str]:
    """The committed .env.example, the .env that the compose tests interpolate with."""
    return _compose.read_env_file(_compose.ENV_EXAMPLE)


@pytest.fixture(scope="package")
def compose(env_example: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yaml as `docker compose` sees it with .env.example copied to .env."""
    return _compose.load(env_example)


@pytest.fixture(scope="package")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    compose: dict[str, Any],
    postgres_server_url: str,
    mlflow_server: str,
) -> Iterator[NativeStack]:
    """Code server, webserver, daemon, seed job and data generator of the compose file, running.

    Databases of their own on the suite's PostgreSQL stand in for postgres-server and
    dagster-storage. The generator writes to a third one: in the stack it adds a random row a
    second to the training table, which would make what the model scores depend on timing.
    """
    workdir = tmp_path_factory.mktemp("native_stack")
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
            "MLFLOW_TRACKING_URI": mlflow_server,
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
                "mlflow": mlflow_server,
            },
        ) as running:
            print(f"\nnative stack: {running.webserver_url}, logs in {running.logs}")
            yield running


@pytest.fixture(scope="package")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (gitignored), for files a person should look at."""
    path = _compose.REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
