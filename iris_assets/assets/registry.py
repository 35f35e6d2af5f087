"""The model logged to MLflow with its data, and registered as a new version."""

import os
import subprocess
import warnings
from collections.abc import Callable
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
from mlflow import log_input, log_metrics, log_params, log_text
from mlflow.data import from_pandas
from mlflow.entities import Run
from mlflow.models import infer_signature
from mlflow.sklearn import log_model
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import Pipeline

from iris_assets import metadata_keys as keys
from iris_assets.assets._champion import RegisteredVersion
from iris_assets.assets._confusion_matrix import confusion_matrix_svg
from iris_assets.assets._dataset_source import PostgresQuerySource
from iris_assets.assets._shared import GROUP, TRANSIENT_FAILURES, transient_only
from iris_assets.config import RegistryConfig, SplitConfig, SVCConfig
from iris_assets.iris_table import FEATURES, LABEL, NEWEST_ROWS, TABLE
from iris_assets.local_instance import instance_location
from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource

# What loading the model needs: MLflow's loader, the skops file format and scikit-learn's stack.
# Naming them spares `log_model` a requirement-inference subprocess that also picks up stray
# imports of this process (pytest, rich, ...).
_MODEL_DISTRIBUTIONS = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")


def model_requirements() -> list[str]:
    """Pins, to the installed versions, of what `mlflow.sklearn.load_model` imports."""
    return [f"{name}=={version(name)}" for name in _MODEL_DISTRIBUTIONS]


@dg.asset(group_name=GROUP, kinds={"mlflow"}, retry_policy=TRANSIENT_FAILURES)
@transient_only
def registered_model(
    context: dg.AssetExecutionContext,
    config: RegistryConfig,
    mlflow: MLflowResource,
    postgres: PostgresResource,
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
    _refuse_rows_from_another_database(context, postgres)
    context.log.info(
        f"Logging to {mlflow.describe()}, experiment {config.experiment!r}; "
        f"data from {postgres.describe()}"
    )
    # The signature needs types only: ten rows tell them, where predicting on every training row
    # would cost as much as `metrics` did.
    example = train_df[list(FEATURES)].iloc[:10]
    dataset = from_pandas(
        iris_df,
        source=PostgresQuerySource(postgres.public_url(), TABLE, NEWEST_ROWS.as_string()),
        targets=LABEL,
        name=TABLE,
    )
    tags = {
        **_lineage_tags(context, iris_df),
        # MLflow shows this tag as the run's description, in Markdown: the way back to Dagster.
        "mlflow.note.content": _note(context, mlflow, iris_df),
    }
    with (
        warnings.catch_warnings(),
        mlflow.start_run(
            config.experiment,
            run_name=f"dagster-{context.run.run_id[:8]}",
            tags=tags,
            task="logging the run and registering the model",
        ) as run,
    ):
        # MLflow hints that integer columns cannot hold missing values; predicted labels never miss.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        for abandoned in mlflow.fail_abandoned_runs(
            run, "dagster.asset_key", tags["dagster.asset_key"], _abandoned_by(context)
        ):
            context.log.warning(
                f"MLflow run {abandoned.info.run_id} (Dagster run "
                f"{abandoned.data.tags.get('dagster.run_id')}) was left RUNNING: now FAILED"
            )
        log_params(_params(iris_df, _split_config(context), fitted_pipeline))
        log_metrics(metrics)
        log_input(dataset, context="training")
        log_text(iris_df.to_csv(), "data.csv")
        log_text(valid_confusion_matrix(fitted_pipeline, valid_df), "confusion_matrix.svg")
        model_info = log_model(
            fitted_pipeline,
            name=config.model_name,
            signature=infer_signature(
                example, pd.Series(fitted_pipeline.predict(example), name=LABEL)
            ),
            input_example=example,
            pip_requirements=model_requirements(),
            registered_model_name=config.model_name,
        )
        registered = RegisteredVersion(
            model_name=config.model_name,
            version=int(model_info.registered_model_version),
            run_id=run.info.run_id,
            train_acc=metrics[keys.TRAIN_ACC],
            valid_acc=metrics[keys.VALID_ACC],
            alias=config.champion_alias,
        )
        mlflow.tag_version(registered.model_name, registered.version, metrics)
    context.log.info(
        f"Registered version {registered.version} of {registered.model_name} from run "
        f"{run.info.run_id} (valid_acc {registered.valid_acc:.3f})"
    )
    return dg.MaterializeResult(
        value=registered,
        metadata={
            **_metadata(mlflow, config, run, registered),
            **{name: dg.MetadataValue.float(score) for name, score in metrics.items()},
        },
    )


def _refuse_rows_from_another_database(
    context: dg.AssetExecutionContext, postgres: PostgresResource
) -> None:
    """Fail, before anything reaches MLflow, when the stored `iris_df` this step trains on was
    read from another database than this run's: the run's lineage (dataset source, the data
    line of the log) would name a database the model never saw. A partial run after the setting
    changed meets this; the fix is to read the rows again."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey("iris_df"))
    materialization = event.asset_materialization if event else None
    recorded = materialization.metadata.get("source") if materialization else None
    here = postgres.public_url()
    if recorded is not None and recorded.value != here:
        raise dg.Failure(
            f"The stored iris_df was read from {recorded.value}, but this run's database is "
            f"{here} ({postgres.setting()}): a model registered now would name a database it "
            "was not trained on. Read the rows again: --select '*registered_model'",
            allow_retries=False,
        )


def _abandoned_by(context: dg.AssetExecutionContext) -> Callable[[Run], bool]:
    """Whether nobody will end an MLflow run of this asset: an earlier attempt of this step, or a
    step of a Dagster run this instance knows has finished. Other instances' runs may be going."""

    def abandoned(run: Run) -> bool:
        owner = run.data.tags.get("dagster.run_id", "")
        owner_run = context.instance.get_run_by_id(owner) if owner else None
        return owner == context.run.run_id or (owner_run is not None and owner_run.is_finished)

    return abandoned


def valid_confusion_matrix(pipeline: Pipeline, rows: pd.DataFrame) -> str:
    """Predicted against true labels of `rows`, as SVG: where the model confuses which species."""
    labels = list(pipeline.classes_)
    predicted = pipeline.predict(rows[list(FEATURES)])
    counts = confusion_matrix(rows[LABEL], predicted, labels=labels)
    return confusion_matrix_svg(counts, labels)


def _note(context: dg.AssetExecutionContext, mlflow: MLflowResource, iris_df: pd.DataFrame) -> str:
    """The MLflow run's description: the Dagster run that trained it, the rows, the code."""
    run_id = context.run.run_id
    rows = (
        f"the {len(iris_df)} newest rows of `{TABLE}` (ids {iris_df.index.min()} to "
        f"{iris_df.index.max()})"
        if not iris_df.empty
        else f"no rows of `{TABLE}`"
    )
    url = mlflow.dagster_run_url(run_id)
    dagster_run = (
        f"[{run_id[:8]}]({url})"
        if url
        else f"`{run_id}` (instance `{instance_location(context.instance)}`)"
    )
    return (
        f"Trained and logged by the `{context.asset_key.to_user_string()}` asset of Dagster run "
        f"{dagster_run} on {rows}, code version `{code_version()}`."
    )


def _lineage_tags(context: dg.AssetExecutionContext, iris_df: pd.DataFrame) -> dict[str, str]:
    """What leads from the MLflow run back to Dagster, the code and the table rows."""
    tags = {
        "dagster.run_id": context.run.run_id,
        "dagster.asset_key": context.asset_key.to_user_string(),
        "code_version": code_version(),
    }
    if not iris_df.empty:
        tags["iris_data.min_id"] = str(iris_df.index.min())
        tags["iris_data.max_id"] = str(iris_df.index.max())
    return tags


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


def _split_config(context: dg.AssetExecutionContext) -> dict[str, Any]:
    """The split config that made `train_df`, from the metadata of its latest materialization:
    the one whose value the IO manager hands this step, made in this run or an earlier one.

    (Dagster gives an input's loader no runtime metadata of the output it loads.)
    """
    event = context.instance.get_latest_materialization_event(dg.AssetKey("train_df"))
    materialization = event.asset_materialization if event else None
    metadata = materialization.metadata if materialization else {}
    return {name: metadata[name].value for name in SplitConfig.model_fields if name in metadata}


def _params(
    iris_df: pd.DataFrame, split_config: dict[str, Any], pipeline: Pipeline
) -> dict[str, Any]:
    """Rows read, the split that made the training rows, and the configurable SVC
    hyperparameters."""
    svc_params = pipeline.named_steps["svc"].get_params()
    return {
        "rows": len(iris_df),
        **split_config,
        **{f"svc_{name}": svc_params[name] for name in SVCConfig.model_fields},
    }


def _metadata(
    mlflow: MLflowResource, config: RegistryConfig, run: Run, registered: RegisteredVersion
) -> dict[str, dg.MetadataValue]:
    """What the Dagster UI shows: ids to look up, and links when the store is a server."""
    run_id = run.info.run_id
    metadata: dict[str, dg.MetadataValue] = {
        "experiment": dg.MetadataValue.text(config.experiment),
        keys.MODEL_NAME: dg.MetadataValue.text(config.model_name),
        "mlflow_run_id": dg.MetadataValue.text(run_id),
        keys.MODEL_URI: dg.MetadataValue.text(registered.uri),
        keys.MODEL_VERSION: dg.MetadataValue.int(registered.version),
    }
    links = {
        "mlflow_run_url": f"experiments/{run.info.experiment_id}/runs/{run_id}",
        keys.MODEL_VERSION_URL: f"models/{config.model_name}/versions/{registered.version}",
    }
    for name, fragment in links.items():
        if url := mlflow.ui_url(fragment):
            metadata[name] = dg.MetadataValue.url(url)
    if command := mlflow.ui_command():
        metadata[keys.MLFLOW_UI_COMMAND] = dg.MetadataValue.text(command)
    return metadata
