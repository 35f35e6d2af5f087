"""Moving the serving alias: a new version takes it only if it is at least as good."""

from dataclasses import dataclass

from mlflow.tracking import MlflowClient

SCORE = "valid_acc"


@dataclass(frozen=True)
class Promotion:
    """What happened to the alias, for the materialization's metadata."""

    promoted: bool
    previous_version: int | None
    previous_score: float | None


def promote_if_better(
    client: MlflowClient, model_name: str, alias: str, version: int, score: float
) -> Promotion:
    """Point `alias` at `version` when no version holds it or its holder scored no better."""
    holder = client.get_registered_model(model_name).aliases.get(alias)
    if holder is None:
        client.set_registered_model_alias(model_name, alias, str(version))
        return Promotion(promoted=True, previous_version=None, previous_score=None)
    run_id = client.get_model_version(model_name, holder).run_id
    previous_score = client.get_run(run_id).data.metrics.get(SCORE) if run_id else None
    promoted = previous_score is None or score >= previous_score
    if promoted:
        client.set_registered_model_alias(model_name, alias, str(version))
    return Promotion(promoted, int(holder), previous_score)
