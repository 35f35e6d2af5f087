"""No password or secret key reaches the Dagster event log, MLflow's records or the output."""

import json
import sqlite3
from pathlib import Path

from mlflow.tracking import MlflowClient

from iris_devstack.materialize import materialize
from iris_devstack.postgres import PostgresCluster

URI_SECRET = "uri-secret-6620"
AWS_SECRET = "aws-secret-key-3391"
WRONG_PASSWORD = "wrong-pg-password-7174"


def _dagster_records(dagster_home: Path) -> str:
    """Every text Dagster stored: its SQLite databases, dumped row by row, and any other file."""
    texts = []
    for path in dagster_home.rglob("*"):
        if path.suffix == ".db":
            with sqlite3.connect(path) as db:
                tables = [
                    row[0]
                    for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                ]
                for table in tables:
                    texts += [repr(row) for row in db.execute(f'SELECT * FROM "{table}"')]
        elif path.is_file():
            texts.append(path.read_bytes().decode(errors="replace"))
    return "\n".join(texts)


def _mlflow_records(tracking_uri: str) -> str:
    """Every experiment, run (params, tags, dataset sources), logged model and model version."""
    client = MlflowClient(tracking_uri)
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments], max_results=10_000)
    models = client.search_logged_models([e.experiment_id for e in experiments])
    records = [
        *(dict(e) for e in experiments),
        *(run.to_dictionary() for run in runs),
        *(repr(m) for m in models),
        *(dict(v) for v in client.search_model_versions()),
    ]
    return json.dumps(records, default=str)


def test_secrets_stay_out_of_logs_storage_and_mlflow(
    password_cluster: PostgresCluster, mlflow_server: str, tmp_path: Path
) -> None:
    """A succeeding and two failing runs with recognisable secrets leave no trace of them."""
    secrets = [password_cluster.password, URI_SECRET, AWS_SECRET, WRONG_PASSWORD]
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    host = mlflow_server.removeprefix("http://")
    env = {
        "DAGSTER_HOME": str(dagster_home),
        "IRIS_DATABASE_URL": password_cluster.url,
        "MLFLOW_TRACKING_URI": f"http://leak-check:{URI_SECRET}@{host}",
        "AWS_ACCESS_KEY_ID": "leak-check",
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    }
    runs = [
        materialize("*", cwd=tmp_path, env=env),
        materialize(
            "*",
            cwd=tmp_path,
            env=env
            | {
                "IRIS_DATABASE_URL": password_cluster.url.replace(
                    password_cluster.password, WRONG_PASSWORD
                )
            },
        ),
        materialize(
            "*",
            cwd=tmp_path,
            env=env | {"MLFLOW_TRACKING_URI": f"http://leak-check:{URI_SECRET}@127.0.0.1:9"},
        ),
    ]
    outcomes = [result.returncode == 0 for result, _ in runs]
    assert outcomes == [True, False, False]
    assert "refused the credentials" in runs[1][0].stderr
    assert "MLflow tracking server at http://127.0.0.1:9 failed" in runs[2][0].stderr

    output = "\n".join(result.stdout + result.stderr for result, _ in runs)
    places = {
        "captured output": output,
        "Dagster storage": _dagster_records(dagster_home),
        "MLflow records": _mlflow_records(mlflow_server),
    }
    for place, text in places.items():
        assert text, place
        for secret in secrets:
            assert secret not in text, f"{secret} found in {place}"
