"""The model logged to MLflow with its data, and registered as a new version."""

from importlib.metadata import version

import dagster as dg
import pandas as pd
from mlflow import log_input, log_metrics, log_params, log_text
from mlflow.data import from_pandas
from mlflow.models import infer_signature
from mlflow.sklearn import log_model
from sklearn.pipeline import Pipeline

from iris_assets.assets._dataset_source import PostgresQuerySource
from iris_assets.assets.data import GROUP, NEWEST_ROWS
from iris_assets.assets.training import SPLIT_ATTR
from iris_assets.config import RegistryConfig, SVCConfig
from iris_assets.iris_table import FEATURES, LABEL, TABLE
from iris_assets.resources import MLflowResource, PostgresResource

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
    features = train_df[list(FEATURES)]
    signature = infer_signature(features, pd.Series(fitted_pipeline.predict(features), name=LABEL))
    svc_params = fitted_pipeline.named_steps["svc"].get_params()
    params = {
        "rows": len(iris_df),
        **train_df.attrs.get(SPLIT_ATTR, {}),
        **{f"svc_{name}": svc_params[name] for name in SVCConfig.model_fields},
    }
    dataset = from_pandas(
        iris_df,
        source=PostgresQuerySource(
            database=postgres.public_url(), table=TABLE, query=NEWEST_ROWS.as_string()
        ),
        targets=LABEL,
        name=TABLE,
    )
    tags = {"dagster.run_id": context.run_id, "dagster.asset_key": "registered_model"}
    with mlflow.start_run(
        config.experiment, run_name=f"dagster-{context.run_id[:8]}", tags=tags
    ) as run:
        log_params(params)
        log_metrics(metrics)
        log_input(dataset, context="training")
        log_text(iris_df.to_csv(index=False), "data.csv")
        model_info = log_model(
            fitted_pipeline,
            name=config.model_name,
            signature=signature,
            input_example=features.iloc[:10],
            pip_requirements=model_requirements(),
            registered_model_name=config.model_name,
        )
    run_id = run.info.run_id
    model_version = str(model_info.registered_model_version)
    model_uri = f"models:/{config.model_name}/{model_version}"
    context.log.info(f"Registered {model_uri} from run {run_id}")
    metadata: dict[str, dg.RawMetadataValue] = {
        "experiment": config.experiment,
        "mlflow_run_id": run_id,
        "model_uri": model_uri,
        "model_version": dg.MetadataValue.int(int(model_version)),
    }
    run_url = mlflow.ui_url(f"experiments/{run.info.experiment_id}/runs/{run_id}")
    version_url = mlflow.ui_url(f"models/{config.model_name}/versions/{model_version}")
    if run_url and version_url:
        metadata["mlflow_run_url"] = dg.MetadataValue.url(run_url)
        metadata["model_version_url"] = dg.MetadataValue.url(version_url)
    return dg.MaterializeResult(metadata=metadata)
