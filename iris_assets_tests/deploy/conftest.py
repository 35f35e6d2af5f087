"""The deployment's files, and its Dagster services running natively, shared by this package.

The native stack starts once for the package (parity test and browser test share it) and is
stopped before the rest of the suite runs.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from iris_assets_tests.deploy import _compose
from iris_assets_tests.deploy._native import NativeStack, local_stack


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

    See `local_stack`: databases of their own on the suite's PostgreSQL, the suite's MLflow server.
    """
    workdir = tmp_path_factory.mktemp("native_stack")
    with local_stack(workdir, compose, postgres_server_url, mlflow_server) as running:
        print(f"\nnative stack: {running.webserver_url}, logs in {running.logs}")
        yield running


@pytest.fixture(scope="package")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (gitignored), for files a person should look at."""
    path = _compose.REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
