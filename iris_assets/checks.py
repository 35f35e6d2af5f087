"""Asset checks: the rows must be trainable, the model good enough, the registered one loadable."""

from collections.abc import Callable, Iterator

import dagster as dg
import pandas as pd
from mlflow.pyfunc import load_model

from iris_assets import data_quality
from iris_assets.assets import iris_df, metrics, registered_model
from iris_assets.config import DataQualityConfig, QualityGateConfig
from iris_assets.resources.mlflow import MLflowResource

_DATA_CHECKS: dict[str, tuple[str, Callable[[pd.DataFrame], str | None]]] = {
    "iris_df_schema": (
        "The four features are numeric and the label an integer class.",
        data_quality.schema_problem,
    ),
    "iris_df_no_missing_values": (
        "No NULL, NaN or infinite feature or label.",
        data_quality.missing_values_problem,
    ),
    "iris_df_two_classes": ("At least two classes to tell apart.", data_quality.class_problem),
}


@dg.multi_asset_check(
    specs=[
        *(
            dg.AssetCheckSpec(name, asset=iris_df, blocking=True, description=description)
            for name, (description, _) in _DATA_CHECKS.items()
        ),
        dg.AssetCheckSpec(
            "iris_df_enough_rows",
            asset=iris_df,
            blocking=True,
            description="Enough rows for a split worth training and scoring on.",
        ),
    ]
)
def iris_df_is_trainable(
    config: DataQualityConfig, iris_df: pd.DataFrame
) -> Iterator[dg.AssetCheckResult]:
    """Stops the run before training when the rows cannot make a model, and says why."""
    problems = {name: find(iris_df) for name, (_, find) in _DATA_CHECKS.items()}
    problems["iris_df_enough_rows"] = data_quality.row_count_problem(iris_df, config.min_rows)
    for name, problem in problems.items():
        yield dg.AssetCheckResult(
            check_name=name,
            passed=problem is None,
            severity=dg.AssetCheckSeverity.ERROR,
            description=problem or "ok",
            metadata={"rows": dg.MetadataValue.int(len(iris_df))},
        )


@dg.asset_check(asset=metrics, blocking=True)
def valid_acc_floor(config: QualityGateConfig, metrics: dict[str, float]) -> dg.AssetCheckResult:
    """Blocks registered_model while valid_acc is below the configured floor."""
    valid_acc = metrics["valid_acc"]
    passed = valid_acc >= config.min_valid_acc
    verdict = "reaches" if passed else "is below"
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"valid_acc {valid_acc:.3f} {verdict} the floor {config.min_valid_acc:.3f}"
            + ("" if passed else "; nothing is registered. Check the data and the SVC config.")
        ),
        metadata={
            "valid_acc": dg.MetadataValue.float(valid_acc),
            "min_valid_acc": dg.MetadataValue.float(config.min_valid_acc),
        },
    )


@dg.asset_check(asset=registered_model, blocking=True)
def served_model_loads(
    context: dg.AssetCheckExecutionContext, mlflow: MLflowResource
) -> dg.AssetCheckResult:
    """The champion and the newest version load with pyfunc and predict on their input example.

    Blocking, so a model that cannot be served fails the run instead of passing quietly.
    """
    event = context.instance.get_latest_materialization_event(registered_model.key)
    if event is None or event.asset_materialization is None:
        return dg.AssetCheckResult(
            passed=False, description="registered_model has never been materialized."
        )
    metadata = event.asset_materialization.metadata
    model_name, alias = metadata["model_name"].value, metadata["champion_alias"].value
    champion_uri, new_uri = f"models:/{model_name}@{alias}", metadata["model_uri"].value
    results: dict[str, dg.MetadataValue] = {}
    try:
        with mlflow.activated():
            champion = mlflow.client().get_model_version_by_alias(model_name, alias).version
            # A promoted version is the champion: one load proves both.
            same = f"models:/{model_name}/{champion}" == new_uri
            for uri in [champion_uri] if same else [champion_uri, new_uri]:
                model = load_model(uri)
                predictions = model.predict(pd.DataFrame(model.input_example))
                results[uri] = dg.MetadataValue.int(len(predictions))
    except Exception as error:
        failed = new_uri if champion_uri in results else champion_uri
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{failed} failed to load or predict: {type(error).__name__}: {error}",
            metadata={"model_uri": dg.MetadataValue.text(failed)},
        )
    return dg.AssetCheckResult(
        passed=True,
        description=f"{champion_uri} and {new_uri} load and predict on their input examples.",
        metadata={f"predictions from {uri}": count for uri, count in results.items()},
    )
