"""Four materializations at once against the real services leave a consistent registry."""

import json
import subprocess
from pathlib import Path

from mlflow.tracking import MlflowClient

from iris_assets_tests import _bucket
from iris_devstack.materialize import command
from iris_devstack.service_env import environ_without_services

MODEL = "concurrent_model"
# valid_acc on the seeded rows: 0.90, 0.95, 0.95, 0.90; all pass the 0.7 floor.
SVC_CONFIGS = [{"kernel": "sigmoid"}, {}, {"C": 0.3}, {"kernel": "linear", "C": 0.01}]


def test_four_parallel_runs_register_four_versions_and_the_best_champion(
    iris_database_url: str, mlflow_server: str, s3_client, tmp_path: Path
) -> None:
    """Four distinct, complete versions; the champion alias ends on a best-scoring one."""
    env = environ_without_services()
    env |= {"IRIS_DATABASE_URL": iris_database_url, "MLFLOW_TRACKING_URI": mlflow_server}
    processes = []
    for index, svc in enumerate(SVC_CONFIGS):
        config = {
            "ops": {
                "fitted_pipeline": {"config": svc},
                "registered_model": {"config": {"model_name": MODEL}},
            }
        }
        cwd = tmp_path / str(index)
        cwd.mkdir()
        processes.append(
            subprocess.Popen(
                [*command("*"), "--config-json", json.dumps(config)],
                cwd=cwd,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for process in processes:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]

    client = MlflowClient(mlflow_server)
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert sorted(int(v.version) for v in versions) == [1, 2, 3, 4]
    assert len({v.run_id for v in versions}) == 4
    scores = {}
    for version in versions:
        files = _bucket.model_files(s3_client, version)
        assert files >= _bucket.MODEL_FILES, (version.version, files)
        scores[version.version] = client.get_run(version.run_id).data.metrics["valid_acc"]
    champion = client.get_model_version_by_alias(MODEL, "champion")
    print(f"\nvalid_acc by version: {scores}; champion: version {champion.version}")
    assert scores[champion.version] == max(scores.values())
