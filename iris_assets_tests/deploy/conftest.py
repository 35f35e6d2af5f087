"""The deployment's files as the deployment tests read them, shared by this package."""

from typing import Any

import pytest

from iris_assets_tests.deploy import _compose
from iris_devstack.compose import ENV_EXAMPLE, read_env_file


@pytest.fixture(scope="package")
def env_example() -> dict[str, str]:
    """The committed .env.example, the .env that the compose tests interpolate with."""
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="package")
def compose(env_example: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yaml as `docker compose` sees it with .env.example copied to .env."""
    return _compose.load(env_example)
