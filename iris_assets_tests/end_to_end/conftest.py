"""What the end-to-end tests share: files a person should look at, and the Compose stack's note."""

from pathlib import Path

import pytest

from iris_devstack.checkout import REPO

STACK_NOTES: list[str] = []
"""What the Compose stack's test ran on, printed at the end of the session for CI's log."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for note in STACK_NOTES:
        terminalreporter.write_line(note)


@pytest.fixture(scope="package")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (gitignored), for files a person should look at."""
    path = REPO / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
