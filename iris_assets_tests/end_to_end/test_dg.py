"""The `dg` CLI, as a user runs it from the repository root: it only loads the code, no service.

`[tool.dg]` in pyproject.toml makes the root a `dg` project whose code location is
`iris_assets.definitions`. Service variables are dropped and DAGSTER_HOME is an empty directory of
the test's own, so neither a developer's settings nor a running service is needed.
"""

import json
import subprocess
import sys
from pathlib import Path

from iris_devstack.checkout import REPO
from iris_devstack.service_env import environ_without_services

DG = str(Path(sys.executable).with_name("dg"))


def _dg(*args: str, dagster_home: Path) -> subprocess.CompletedProcess[str]:
    clean = environ_without_services()
    return subprocess.run(
        [DG, *args],
        cwd=REPO,
        env={**clean, "DAGSTER_HOME": str(dagster_home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_defs_passes(tmp_path: Path) -> None:
    """`dg check defs` from the repository root loads the definitions and exits 0."""
    result = _dg("check", "defs", dagster_home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully." in result.stdout


def test_list_defs_names_the_assets(tmp_path: Path) -> None:
    """`dg list defs` lists the graph's assets, from `iris_df` to `registered_model`."""
    # --json: the table abbreviates keys to fit the terminal's width.
    result = _dg("list", "defs", "--json", dagster_home=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    keys = {asset["asset_key"] for asset in json.loads(result.stdout)["assets"]}
    assert {"iris_df", "registered_model"} <= keys
