"""champion_model: the alias moves only to a version that serves and scores no worse on the same
rows, against the MLflow tracking server and its S3 store; and the rule itself, on its own."""

import logging
from collections.abc import Mapping
from typing import Any

import dagster as dg
import psycopg
import pytest
from mlflow.tracking import MlflowClient

from iris_assets import iris_table
from iris_assets.assets._champion import decide
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry, RegisteredVersion
from iris_assets_tests import _bucket
from iris_assets_tests._graph import run_graph
from iris_assets_tests.conftest import S3_BUCKET

SIGMOID = {"kernel": "sigmoid"}  # valid_acc 0.90 on the seeded rows; the default SVC scores 0.95


def _champion(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.asset_materializations_for_node("champion_model")
    return {name: value.value for name, value in event.metadata.items()}


def _corrupt_model_file(s3_client: Any, source: str) -> None:
    """Overwrite a logged model's model.skops in the bucket, as a broken upload would leave it."""
    model_id = source.removeprefix("models:/")
    [key] = [k for k in _bucket.keys(s3_client) if k.endswith(f"{model_id}/artifacts/model.skops")]
    s3_client.put_object(Bucket=S3_BUCKET, Key=key, Body=b"not a model")


class _BreaksEachNewVersion(dg.IOManager):
    """Keeps values in memory and, as registered_model's is stored, breaks that version's model
    file in the bucket: the registry then holds a version that cannot load."""

    def __init__(self, s3_client: Any, client: MlflowClient) -> None:
        self.values: dict[str, Any] = {}
        self.s3_client, self.client = s3_client, client

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        self.values[context.asset_key.to_user_string()] = obj
        if isinstance(obj, RegisteredVersion):
            version = self.client.get_model_version(obj.model_name, str(obj.version))
            _corrupt_model_file(self.s3_client, version.source)

    def load_input(self, context: dg.InputContext) -> Any:
        return self.values[context.asset_key.to_user_string()]


def test_alias_moves_to_better_and_stays_on_worse(
    graph_resources: Mapping[str, object], mlflow_server: str
) -> None:
    """Worse first (takes the empty alias), then better (moves it), then worse (registered only)."""
    client = MlflowClient(mlflow_server)
    instance = dg.DagsterInstance.ephemeral()
    outcomes = []
    for svc in (SIGMOID, {}, SIGMOID):
        result = run_graph(
            graph_resources,
            instance,
            ops={"registered_model": {"model_name": "alias_model"}, "fitted_pipeline": svc},
        )
        assert result.success
        metadata = _champion(result)
        champion = client.get_model_version_by_alias("alias_model", "champion")
        outcomes.append(
            (metadata["challenger_version"], metadata["promoted"], int(champion.version))
        )
    assert outcomes == [(1, True, 1), (2, True, 2), (3, False, 2)]
    assert metadata["previous_champion_version"] == 2
    assert metadata["previous_champion_valid_acc"] == 0.95
    assert metadata["reason"] == (
        "valid_acc 0.900 against version 2's 0.950 on the same valid rows: worse"
    )


def test_a_version_that_does_not_load_never_becomes_champion(
    graph_resources: Mapping[str, object], mlflow_server: str, s3_client: Any
) -> None:
    """Registered but unloadable: its blocking check fails the run and the alias stays put."""
    client = MlflowClient(mlflow_server)
    instance = dg.DagsterInstance.ephemeral()
    ops = {"registered_model": {"model_name": "broken_model"}}
    assert run_graph(graph_resources, instance, ops=ops).success
    breaking = dg.IOManagerDefinition.hardcoded_io_manager(_BreaksEachNewVersion(s3_client, client))
    result = run_graph({**graph_resources, "io_manager": breaking}, instance, ops=ops)
    assert not result.success
    [check] = [e for e in result.get_asset_check_evaluations() if not e.passed]
    assert check.check_name == "new_version_predicts"
    assert "models:/broken_model/2 failed to load or predict" in (check.description or "")
    assert not result.asset_materializations_for_node("champion_model")
    assert [int(v.version) for v in client.search_model_versions("name='broken_model'")] == [2, 1]
    assert client.get_model_version_by_alias("broken_model", "champion").version == "1"


def test_a_champion_that_no_longer_loads_is_replaced_with_a_warning(
    graph_resources: Mapping[str, object], mlflow_server: str, s3_client: Any
) -> None:
    """Even by a weaker version: a champion that cannot serve is no champion."""
    client = MlflowClient(mlflow_server)
    instance = dg.DagsterInstance.ephemeral()
    ops = {"registered_model": {"model_name": "stale_model"}}
    assert run_graph(graph_resources, instance, ops=ops).success
    _corrupt_model_file(s3_client, client.get_model_version("stale_model", "1").source)
    result = run_graph(
        graph_resources,
        instance,
        ops={**ops, "fitted_pipeline": SIGMOID},
    )
    assert result.success
    metadata = _champion(result)
    assert metadata["promoted"] is True
    assert metadata["reason"].startswith("version 1 no longer loads or predicts")
    warnings = [
        e.user_message for e in instance.all_logs(result.run_id) if e.level == logging.WARNING
    ]
    assert any("no longer loads or predicts" in message for message in warnings)
    assert client.get_model_version_by_alias("stale_model", "champion").version == "2"


def test_alias_follows_the_better_model_on_the_same_rows_not_the_easier_window(
    empty_database_url: str, mlflow_server: str
) -> None:
    """A model scored 1.0 on an easy window loses to one scored less on a hard window, once both
    are scored on the hard window's valid rows; the decision is kept on the version and run."""
    easy = _two_species_prototypes(copies=30)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        iris_table.create_table(conn)
        iris_table.insert_rows(conn, easy)
    resources = {
        "postgres": PostgresResource(database_url=empty_database_url),
        "registry": ModelRegistry(tracking_uri=mlflow_server),
    }
    instance = dg.DagsterInstance.ephemeral()
    registry = {"registered_model": {"model_name": "window_model"}}
    first = run_graph(resources, instance, ops={**registry, "iris_df": {"limit": len(easy)}})
    assert first.success
    assert _champion(first)["challenger_valid_acc"] == 1.0

    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        iris_table.insert_rows(conn, iris_table.seed_rows())
    second = run_graph(resources, instance, ops={**registry, "iris_df": {"limit": 150}})
    assert second.success
    metadata = _champion(second)
    print(f"\ncomparison on the hard window's valid rows: {metadata['reason']}")
    assert metadata["challenger_valid_acc"] < 1.0  # worse than the champion's own easy score
    assert metadata["previous_champion_valid_acc"] < metadata["challenger_valid_acc"]
    assert metadata["promoted"] is True
    assert metadata["valid_rows"] == 30

    client = MlflowClient(mlflow_server)
    assert client.get_model_version_by_alias("window_model", "champion").version == "2"
    version = client.get_model_version("window_model", "2")
    run = client.get_run(version.run_id)
    for tags in (version.tags, run.data.tags):
        assert tags["champion.decision"] == "promoted"
        assert tags["champion.previous_version"] == "1"
        assert float(tags["champion.previous_valid_acc_on_these_rows"]) == pytest.approx(
            metadata["previous_champion_valid_acc"]
        )
        assert tags["champion.rows"].startswith("30 valid rows of iris_data, ids ")
    assert version.tags["valid_acc"] == str(metadata["challenger_valid_acc"])


def _two_species_prototypes(copies: int) -> list[iris_table.IrisRow]:
    """`copies` rows of each of the first two species' mean flower: trivially told apart."""
    rows = iris_table.iris_rows()
    means = []
    for label in (0, 1):
        members = [row for row in rows if row[4] == label]
        mean = [round(sum(row[i] for row in members) / len(members), 2) for i in range(4)]
        means.append((*mean, label))
    return [mean for mean in means for _ in range(copies)]


def test_rule_ties_go_to_the_newer_version_and_worse_stays_out() -> None:
    """The decision itself: no holder, a tie and a better score promote; a worse one does not."""
    challenger = RegisteredVersion("m", 5, "run", train_acc=1.0, valid_acc=0.9)
    assert decide(challenger, None, None).promoted
    assert decide(challenger, 5, None).reason == "version 5 already holds the alias"
    tie = decide(challenger, 4, 0.9)
    assert tie.promoted and tie.reason.endswith("a tie, which goes to the newer version")
    assert decide(challenger, 4, 0.8).promoted
    assert not decide(challenger, 4, 0.95).promoted
    broken = decide(challenger, 4, None, holder_error="OSError: gone")
    assert broken.promoted and "no longer loads" in broken.reason
    assert challenger.uri == "models:/m/5"
