"""Asset checks: the rows must be trainable, the model good enough, the registered one loadable."""

from collections.abc import Callable, Iterator

import dagster as dg
import pandas as pd
from mlflow.pyfunc import load_model

from iris_assets import data_quality, iris_table
from iris_assets import metadata_keys as keys
from iris_assets.assets import iris_df, metrics, registered_model
from iris_assets.config import DataQualityConfig, QualityGateConfig
from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource

_Finder = Callable[[pd.DataFrame], str | None]
_Describer = Callable[[pd.DataFrame], str]
_DATA_CHECKS: dict[str, tuple[str, _Finder, _Describer]] = {
    "iris_df_schema": (
        "The four features are numeric and the label an integer class.",
        data_quality.schema_problem,
        data_quality.schema_checked,
    ),
    "iris_df_no_missing_values": (
        "No NULL, NaN or infinite feature or label.",
        data_quality.missing_values_problem,
        data_quality.missing_values_checked,
    ),
    "iris_df_two_classes": (
        "At least two classes to tell apart.",
        data_quality.class_problem,
        data_quality.classes_checked,
    ),
}


@dg.multi_asset_check(
    specs=[
        *(
            dg.AssetCheckSpec(name, asset=iris_df, blocking=True, description=description)
            for name, (description, _, _) in _DATA_CHECKS.items()
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
    checks: dict[str, tuple[_Finder, _Describer]] = {
        name: (find, describe) for name, (_, find, describe) in _DATA_CHECKS.items()
    }
    checks["iris_df_enough_rows"] = (
        lambda frame: data_quality.row_count_problem(frame, config.min_rows),
        lambda frame: data_quality.row_count_checked(frame, config.min_rows),
    )
    for name, (find, describe) in checks.items():
        problem = find(iris_df)
        yield dg.AssetCheckResult(
            check_name=name,
            passed=problem is None,
            severity=dg.AssetCheckSeverity.ERROR,
            # What a passing check saw, so "passed" says what was checked.
            description=problem or describe(iris_df),
            metadata={"rows": dg.MetadataValue.int(len(iris_df))},
        )


@dg.asset_check(
    asset=iris_df,
    blocking=False,
    description="Every class iris_data holds is among the training rows (a warning otherwise).",
)
def iris_df_has_every_class(
    iris_df: pd.DataFrame, postgres: PostgresResource
) -> dg.AssetCheckResult:
    """Warns when the window lacks a class the table has: the model could never predict it."""
    with postgres.connect() as conn:
        table_classes = iris_table.classes(conn)
    problem = data_quality.missing_classes_problem(iris_df, table_classes)
    return dg.AssetCheckResult(
        passed=problem is None,
        severity=dg.AssetCheckSeverity.WARN,
        description=problem
        or f"The training rows hold every class of {iris_table.TABLE}: {table_classes}.",
        metadata={"classes_in_table": dg.MetadataValue.int(len(table_classes))},
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
    model_name, alias = metadata[keys.MODEL_NAME].value, metadata[keys.CHAMPION_ALIAS].value
    champion_uri, new_uri = f"models:/{model_name}@{alias}", metadata[keys.MODEL_URI].value
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
            metadata={keys.MODEL_URI: dg.MetadataValue.text(failed)},
        )
    return dg.AssetCheckResult(
        passed=True,
        description=f"{champion_uri} and {new_uri} load and predict on their input examples.",
        metadata={f"predictions from {uri}": count for uri, count in results.items()},
    )
