"""Run the README's main command as a user would: `dagster asset materialize` in a subprocess."""

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def command(select: str) -> list[str]:
    """The README's main command, materializing `select`."""
    return [DAGSTER, "asset", "materialize", "-m", "iris_assets.definitions", "--select", select]


SERVICE_VARIABLES = (
    "IRIS_DATABASE_URL",
    "IRIS_IO_S3_URI",
    "IRIS_HOME",
    "MLFLOW_TRACKING_URI",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "DAGSTER_HOME",
)


def clean_environ() -> dict[str, str]:
    """This process's environment without any variable that would point a command at a service."""
    return {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}


def materialize(
    select: str,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float = 300,
    config: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Materialize `select` (with run `config` as JSON); only `env` configures services. Returns
    the process and wall time."""
    clean = clean_environ()
    started = time.monotonic()
    result = subprocess.run(
        [*command(select), *(["--config-json", config] if config else [])],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return result, time.monotonic() - started
