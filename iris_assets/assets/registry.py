"""The model logged to MLflow with its data, and registered as a new version."""

import os
import subprocess
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from pydantic import ValidationError
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import Pipeline

from iris_assets import metadata_keys as keys
from iris_assets.assets._confusion_matrix import confusion_matrix_svg
from iris_assets.assets._dagster_runs import abandoned_by
from iris_assets.assets._shared import GROUP, TRANSIENT_FAILURES, transient_only
from iris_assets.config import ChampionConfig, RegistryConfig, SVCConfig
from iris_assets.frame_lineage import source_of, split_of
from iris_assets.iris_table import FEATURES, LABEL, TABLE
from iris_assets.local_instance import instance_location
from iris_assets.resources.registry import (
    ModelRegistry,
    RegisteredVersion,
    Registration,
    RowsSource,
    TrainingRecord,
)

# What loading the model needs: MLflow's loader, the skops file format and scikit-learn's stack.
# Naming them spares `log_model` a requirement-inference subprocess that also picks up stray
# imports of this process (pytest, rich, ...).
_MODEL_DISTRIBUTIONS = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")
_EXAMPLE_ROWS = 10
"""The tutorial's input example: the first ten training rows. The signature needs types only:
ten rows tell them, where predicting on every training row would cost as much as `metrics` did."""


def model_requirements() -> list[str]:
    """Pins, to the installed versions, of what `mlflow.sklearn.load_model` imports."""
    return [f"{name}=={version(name)}" for name in _MODEL_DISTRIBUTIONS]


@dg.asset(group_name=GROUP, kinds={"mlflow"}, retry_policy=TRANSIENT_FAILURES)
@transient_only
def registered_model(
    context: dg.AssetExecutionContext,
    config: RegistryConfig,
    registry: ModelRegistry,
    iris_df: pd.DataFrame,
    train_df: pd.DataFrame,
    valid_df: pd.DataFrame,
    fitted_pipeline: Pipeline,
    metrics: dict[str, float],
) -> dg.MaterializeResult[RegisteredVersion]:
    """One MLflow run with params, metrics, data and model; the model becomes a new version.

    The version is tagged with its scores. Whether it serves is for its check and for
    `champion_model` to decide.
    """
    _check_champion_config(context)
    record = _record(
        context, config, registry, iris_df, train_df, valid_df, fitted_pipeline, metrics
    )
    context.log.info(
        f"Logging to {registry.describe()}, experiment {config.experiment!r}; "
        f"data from {record.source.database}"
    )
    registration = registry.register(record)
    for mlflow_run, dagster_run in registration.failed_runs:
        context.log.warning(
            f"MLflow run {mlflow_run} (Dagster run {dagster_run}) was left RUNNING: now FAILED"
        )
    registered = registration.version
    context.log.info(
        f"Registered version {registered.version} of {registered.model_name} from run "
        f"{registered.run_id} (valid_acc {registered.valid_acc:.3f})"
    )
    return dg.MaterializeResult(
        value=registered,
        metadata={
            **_metadata(registry, config, registration),
            **{name: dg.MetadataValue.float(score) for name, score in metrics.items()},
        },
    )


def _record(
    context: dg.AssetExecutionContext,
    config: RegistryConfig,
    registry: ModelRegistry,
    iris_df: pd.DataFrame,
    train_df: pd.DataFrame,
    valid_df: pd.DataFrame,
    pipeline: Pipeline,
    metrics: dict[str, float],
) -> TrainingRecord:
    """What the registry stores, from this step's inputs alone."""
    source = source_of(iris_df)
    if source is None:
        raise dg.Failure(
            "The stored iris_df does not say which database its rows came from (an earlier "
            "release stored it): read the rows again, --select '*registered_model'.",
            allow_retries=False,
        )
    return TrainingRecord(
        experiment=config.experiment,
        model_name=config.model_name,
        run_name=f"dagster-{context.run.run_id[:8]}",
        model=pipeline,
        rows=iris_df,
        source=RowsSource(**source),
        label=LABEL,
        example=train_df[list(FEATURES)].iloc[:_EXAMPLE_ROWS],
        params=_params(iris_df, split_of(train_df), pipeline),
        metrics=metrics,
        texts={"confusion_matrix.svg": valid_confusion_matrix(pipeline, valid_df)},
        tags={
            **_row_tags(iris_df),
            "code_version": code_version(),
            # MLflow shows this tag as the run's description, in Markdown: the way to Dagster.
            "mlflow.note.content": _note(context, registry, iris_df),
        },
        requirements=model_requirements(),
        dagster_run_id=context.run.run_id,
        asset_key=context.asset_key.to_user_string(),
        abandoned=abandoned_by(context),
    )


def _check_champion_config(context: dg.AssetExecutionContext) -> None:
    """Refuse a bad alias of champion_model, when this run moves one, before MLflow hears of the
    run: the alias is champion_model's config, but a run that would fail there after registering
    leaves a version nobody promotes."""
    ops = (context.run.run_config or {}).get("ops", {})
    champion = (ops.get("champion_model") or {}).get("config") or {}
    try:
        ChampionConfig(**champion)
    except ValidationError as error:
        raise dg.Failure(
            f"champion_model's config is invalid, so nothing is registered: {error}",
            allow_retries=False,
        ) from None


def valid_confusion_matrix(pipeline: Pipeline, rows: pd.DataFrame) -> str:
    """Predicted against true labels of `rows`, as SVG: where the model confuses which species."""
    labels = list(pipeline.classes_)
    predicted = pipeline.predict(rows[list(FEATURES)])
    counts = confusion_matrix(rows[LABEL], predicted, labels=labels)
    return confusion_matrix_svg(counts, labels)


def _note(context: dg.AssetExecutionContext, registry: ModelRegistry, iris_df: pd.DataFrame) -> str:
    """The MLflow run's description: the Dagster run that trained it, the rows, the code."""
    run_id = context.run.run_id
    rows = (
        f"the {len(iris_df)} newest rows of `{TABLE}` (ids {iris_df.index.min()} to "
        f"{iris_df.index.max()})"
        if not iris_df.empty
        else f"no rows of `{TABLE}`"
    )
    url = registry.dagster_run_url(run_id)
    dagster_run = (
        f"[{run_id[:8]}]({url})"
        if url
        else f"`{run_id}` (instance `{instance_location(context.instance)}`)"
    )
    return (
        f"Trained and logged by the `{context.asset_key.to_user_string()}` asset of Dagster run "
        f"{dagster_run} on {rows}, code version `{code_version()}`."
    )


def _row_tags(iris_df: pd.DataFrame) -> dict[str, str]:
    """The table rows the model learned from, by id."""
    if iris_df.empty:
        return {}
    return {
        "iris_data.min_id": str(iris_df.index.min()),
        "iris_data.max_id": str(iris_df.index.max()),
    }


@cache
def code_version() -> str:
    """The git commit of this code, `IRIS_CODE_VERSION` where there is no checkout, or unknown."""
    if from_env := os.environ.get("IRIS_CODE_VERSION"):
        return from_env
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit.stdout.strip()


def _params(iris_df: pd.DataFrame, split: dict[str, Any], pipeline: Pipeline) -> dict[str, Any]:
    """Rows read, the split that made the training rows, and the configurable SVC
    hyperparameters."""
    svc_params = pipeline.named_steps["svc"].get_params()
    return {
        "rows": len(iris_df),
        **split,
        **{f"svc_{name}": svc_params[name] for name in SVCConfig.model_fields},
    }


def _metadata(
    registry: ModelRegistry, config: RegistryConfig, registration: Registration
) -> dict[str, dg.MetadataValue]:
    """What the Dagster UI shows: ids to look up, and links when the store is a server."""
    registered = registration.version
    metadata: dict[str, dg.MetadataValue] = {
        "experiment": dg.MetadataValue.text(config.experiment),
        keys.MODEL_NAME: dg.MetadataValue.text(config.model_name),
        "mlflow_run_id": dg.MetadataValue.text(registered.run_id),
        keys.MODEL_URI: dg.MetadataValue.text(registered.uri),
        keys.MODEL_VERSION: dg.MetadataValue.int(registered.version),
    }
    links = {
        "mlflow_run_url": f"experiments/{registration.experiment_id}/runs/{registered.run_id}",
        keys.MODEL_VERSION_URL: f"models/{config.model_name}/versions/{registered.version}",
    }
    for name, fragment in links.items():
        if url := registry.ui_url(fragment):
            metadata[name] = dg.MetadataValue.url(url)
    if command := registry.ui_command():
        metadata[keys.MLFLOW_UI_COMMAND] = dg.MetadataValue.text(command)
    return metadata
