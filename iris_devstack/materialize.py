"""Run the README's main command as a user would: `dagster asset materialize` in a subprocess."""

import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from iris_devstack.service_env import environ_without_services

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def command(select: str) -> list[str]:
    """The README's main command, materializing `select`."""
    return [DAGSTER, "asset", "materialize", "-m", "iris_assets.definitions", "--select", select]


def materialize(
    select: str,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 300,
    config: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Materialize `select` (with run `config` as JSON); only `env` configures services. Returns
    the process and wall time."""
    service_free = environ_without_services()
    started = time.monotonic()
    result = subprocess.run(
        [*command(select), *(["--config-json", config] if config else [])],
        cwd=cwd,
        env={**service_free, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result, time.monotonic() - started
