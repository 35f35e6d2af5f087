"""The README's first command on a fresh checkout: no configuration, embedded services."""

from pathlib import Path

from mlflow.tracking import MlflowClient

from iris_assets_tests._materialize import materialize


def test_first_command_registers_version_1_then_2(tmp_path: Path) -> None:
    """With no environment set, each run registers the next sk_model version in .iris/mlflow.db."""
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
