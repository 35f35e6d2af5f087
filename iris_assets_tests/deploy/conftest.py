"""The deployment's files as the deployment tests read them, shared by this package."""

from pathlib import Path
from typing import Any

import pytest

from iris_assets_tests.deploy import _compose

STACK_NOTES: list[str] = []
"""What the Compose stack's test ran on, printed at the end of the session for CI's log."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for note in STACK_NOTES:
        terminalreporter.write_line(note)


@pytest.fixture(scope="package")
def env_example() -> dict[str, str]:
    """The committed .env.example, the .env that the compose tests interpolate with."""
    return _compose.read_env_file(_compose.ENV_EXAMPLE)


@pytest.fixture(scope="package")
def compose(env_example: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yaml as `docker compose` sees it with .env.example copied to .env."""
    return _compose.load(env_example)


@pytest.fixture(scope="package")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (gitignored), for files a person should look at."""
    path = _compose.REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
