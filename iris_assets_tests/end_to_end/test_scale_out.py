"""Runs that share nothing but PostgreSQL and S3, as two Kubernetes Jobs would: two Dagster
instances with homes of their own, one storage database, one S3 store."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from psycopg.conninfo import conninfo_to_dict

from iris_assets_tests.conftest import S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY
from iris_devstack.checkout import REPO
from iris_devstack.materialize import materialize
from iris_devstack.postgres import postgres_database

MODEL = "scale_out_model"


@pytest.fixture(scope="module")
def dagster_storage(postgres_server_url: str) -> Iterator[dict[str, str]]:
    """A database for Dagster's runs and events, as the DAGSTER_PG_* variables name it."""
    name = f"iris_test_dagster_{uuid.uuid4().hex[:8]}"
    with postgres_database(postgres_server_url, name) as url:
        parts = conninfo_to_dict(url)
        yield {
            "DAGSTER_PG_HOST": str(parts.get("host", "127.0.0.1")),
            "DAGSTER_PG_PORT": str(parts.get("port") or 5432),
            "DAGSTER_PG_USER": str(parts.get("user") or "postgres"),
            "DAGSTER_PG_PASSWORD": str(parts.get("password") or "unused"),
            "DAGSTER_PG_DB": name,
        }


def _home(path: Path) -> Path:
    """A DAGSTER_HOME whose instance keeps runs and events in PostgreSQL, as the deployments'."""
    deployed = yaml.safe_load((REPO / "deploy" / "dagster_home" / "dagster.yaml").read_text())
    path.mkdir()
    (path / "dagster.yaml").write_text(yaml.safe_dump({"storage": deployed["storage"]}))
    return path


def _env(
    home: Path,
    storage: dict[str, str],
    iris_database_url: str,
    mlflow_server: str,
    values_in: str | None,
    s3_endpoint: str,
) -> dict[str, str]:
    env = {
        "DAGSTER_HOME": str(home),
        **storage,
        "IRIS_DATABASE_URL": iris_database_url,
        "MLFLOW_TRACKING_URI": mlflow_server,
    }
    if values_in:
        env |= {
            "IRIS_IO_S3_URI": values_in,
            "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        }
    return env


@pytest.mark.parametrize("values_in_s3", [True, False], ids=["s3-io-manager", "filesystem"])
def test_a_partial_run_in_a_second_instance_finds_what_the_first_stored(
    values_in_s3: bool,
    tmp_path: Path,
    dagster_storage: dict[str, str],
    iris_database_url: str,
    mlflow_server: str,
    s3_endpoint: str,
    s3_client,
) -> None:
    """`*metrics` in one instance, `registered_model` in another: with the S3 IO manager the
    second registers; with the filesystem one it fails at once saying what to run."""
    prefix = f"dagster-io-{uuid.uuid4().hex[:8]}"
    values_in = f"s3://{S3_BUCKET}/{prefix}" if values_in_s3 else None
    client = MlflowClient(mlflow_server)
    before = len(client.search_model_versions(f"name = '{MODEL}'"))
    config = json.dumps({"ops": {"registered_model": {"config": {"model_name": MODEL}}}})
    runs = {}
    for name, select in (("first", "*metrics"), ("second", "registered_model")):
        home = _home(tmp_path / name)
        env = _env(home, dagster_storage, iris_database_url, mlflow_server, values_in, s3_endpoint)
        (tmp_path / f"{name}-cwd").mkdir()
        runs[name], _ = materialize(select, tmp_path / f"{name}-cwd", env, config=config)
    assert runs["first"].returncode == 0, runs["first"].stderr[-3000:]
    after = len(client.search_model_versions(f"name = '{MODEL}'"))
    if values_in_s3:
        assert runs["second"].returncode == 0, runs["second"].stderr[-3000:]
        assert after == before + 1
        stored = {
            item["Key"].removeprefix(f"{prefix}/")
            for item in s3_client.list_objects_v2(Bucket=S3_BUCKET, Prefix=prefix).get(
                "Contents", []
            )
        }
        assert {"iris_df", "train_df", "valid_df", "fitted_pipeline", "metrics"} <= stored
        assert not list((tmp_path / "first").rglob("fitted_pipeline"))
    else:
        assert runs["second"].returncode == 1
        assert "Materialize upstream first: --select '*registered_model'" in runs["second"].stderr
        assert after == before
