"""The README's first command on a fresh checkout: no configuration, embedded services."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient

from iris_assets_tests._materialize import materialize

REPO = Path(__file__).parents[1]


def test_first_command_registers_version_1_then_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run registers the next sk_model version in .iris/mlflow.db; Dagster keeps both runs."""
    shutil.copy(REPO / "dagster.yaml", tmp_path)  # the checkout's root, where the command runs
    for expected in (1, 2):
        result, seconds = materialize("*", cwd=tmp_path, env={})
        assert result.returncode == 0, result.stderr[-4000:]
        print(f"run {expected}: {seconds:.1f} s")
        client = MlflowClient(f"sqlite:///{tmp_path / '.iris' / 'mlflow.db'}")
        versions = sorted(int(v.version) for v in client.search_model_versions("name='sk_model'"))
        assert versions == list(range(1, expected + 1))
    assert "embedded PostgreSQL" in result.stderr
    assert "embedded MLflow store" in result.stderr
    assert list((tmp_path / ".iris" / "mlartifacts").rglob("MLmodel"))

    monkeypatch.chdir(tmp_path)  # dagster.yaml's paths are relative to where Dagster runs
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        runs = instance.get_runs()
    assert [run.status for run in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
    # What a rerun of registered_model alone loads.
    assert (tmp_path / ".iris" / "dagster" / "storage" / "fitted_pipeline").exists()
