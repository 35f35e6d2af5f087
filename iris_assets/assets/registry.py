"""The model logged to MLflow with its data, and registered as a new version."""

import warnings
from importlib.metadata import version
from typing import Any

import dagster as dg
import pandas as pd
from mlflow import log_input, log_metrics, log_params, log_text
from mlflow.data import from_pandas
from mlflow.entities import Run
from mlflow.models import infer_signature
from mlflow.sklearn import log_model
from sklearn.pipeline import Pipeline

from iris_assets.assets._dataset_source import PostgresQuerySource
from iris_assets.assets.data import GROUP, NEWEST_ROWS
from iris_assets.assets.training import SPLIT_ATTR
from iris_assets.config import RegistryConfig, SVCConfig
from iris_assets.iris_table import FEATURES, LABEL, TABLE
from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource

# What loading the model needs: MLflow's loader, the skops file format and scikit-learn's stack.
# Naming them spares `log_model` a requirement-inference subprocess that also picks up stray
# imports of this process (pytest, rich, ...).
_MODEL_DISTRIBUTIONS = ("mlflow", "scikit-learn", "skops", "numpy", "scipy", "pandas")


def model_requirements() -> list[str]:
    """Pins, to the installed versions, of what `mlflow.sklearn.load_model` imports."""
    return [f"{name}=={version(name)}" for name in _MODEL_DISTRIBUTIONS]


@dg.asset(group_name=GROUP, kinds={"mlflow"})
def registered_model(
    context: dg.AssetExecutionContext,
    config: RegistryConfig,
    mlflow: MLflowResource,
    postgres: PostgresResource,
    iris_df: pd.DataFrame,
    train_df: pd.DataFrame,
    fitted_pipeline: Pipeline,
    metrics: dict[str, float],
) -> dg.MaterializeResult:
    """One MLflow run with params, metrics, data and model; the model becomes a new version."""
    context.log.info(
        f"Logging to {mlflow.describe()}, experiment {config.experiment!r}; "
        f"data from {postgres.describe()}"
    )
    run_id = context.run.run_id
    features = train_df[list(FEATURES)]
    dataset = from_pandas(
        iris_df,
        source=PostgresQuerySource(postgres.public_url(), TABLE, NEWEST_ROWS.as_string()),
        targets=LABEL,
        name=TABLE,
    )
    tags = {"dagster.run_id": run_id, "dagster.asset_key": context.asset_key.to_user_string()}
    with (
        warnings.catch_warnings(),
        mlflow.start_run(config.experiment, run_name=f"dagster-{run_id[:8]}", tags=tags) as run,
    ):
        # MLflow hints that integer columns cannot hold missing values; predicted labels never miss.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        log_params(_params(iris_df, train_df, fitted_pipeline))
        log_metrics(metrics)
        log_input(dataset, context="training")
        log_text(iris_df.to_csv(index=False), "data.csv")
        model_info = log_model(
            fitted_pipeline,
            name=config.model_name,
            signature=infer_signature(
                features, pd.Series(fitted_pipeline.predict(features), name=LABEL)
            ),
            input_example=features.iloc[:10],
            pip_requirements=model_requirements(),
            registered_model_name=config.model_name,
        )
    version = int(model_info.registered_model_version)
    context.log.info(
        f"Registered version {version} of {config.model_name} from run {run.info.run_id}"
    )
    return dg.MaterializeResult(metadata=_metadata(mlflow, config, run, version))


def _params(iris_df: pd.DataFrame, train_df: pd.DataFrame, pipeline: Pipeline) -> dict[str, Any]:
    """Rows read, the split that made `train_df`, and the configurable SVC hyperparameters."""
    svc_params = pipeline.named_steps["svc"].get_params()
    return {
        "rows": len(iris_df),
        **train_df.attrs.get(SPLIT_ATTR, {}),
        **{f"svc_{name}": svc_params[name] for name in SVCConfig.model_fields},
    }


def _metadata(
    mlflow: MLflowResource, config: RegistryConfig, run: Run, version: int
) -> dict[str, dg.MetadataValue]:
    """What the Dagster UI shows: ids to look up, and links when the store is a server."""
    run_id = run.info.run_id
    metadata: dict[str, dg.MetadataValue] = {
        "experiment": dg.MetadataValue.text(config.experiment),
        "mlflow_run_id": dg.MetadataValue.text(run_id),
        "model_uri": dg.MetadataValue.text(f"models:/{config.model_name}/{version}"),
        "model_version": dg.MetadataValue.int(version),
    }
    links = {
        "mlflow_run_url": f"experiments/{run.info.experiment_id}/runs/{run_id}",
        "model_version_url": f"models/{config.model_name}/versions/{version}",
    }
    for name, fragment in links.items():
        if url := mlflow.ui_url(fragment):
            metadata[name] = dg.MetadataValue.url(url)
    return metadata
