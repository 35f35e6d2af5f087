"""Asset checks: the rows must be trainable, the model good enough, the new version servable."""

from collections.abc import Callable, Iterator

import dagster as dg
import pandas as pd

from iris_assets import data_quality, iris_table
from iris_assets import metadata_keys as keys
from iris_assets.assets import iris_df, iris_predictions, metrics, registered_model
from iris_assets.assets.predictions import Scored
from iris_assets.assets.training import accuracy
from iris_assets.config import DataQualityConfig, DriftConfig, QualityGateConfig
from iris_assets.resources.postgres import PostgresResource
from iris_assets.resources.registry import ModelRegistry, RegisteredVersion

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
    valid_acc = metrics[keys.VALID_ACC]
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
            keys.VALID_ACC: dg.MetadataValue.float(valid_acc),
            "min_valid_acc": dg.MetadataValue.float(config.min_valid_acc),
        },
    )


@dg.asset_check(
    asset=registered_model,
    blocking=True,
    additional_ins={"valid_df": dg.AssetIn("valid_df")},
)
def new_version_predicts(
    registry: ModelRegistry, registered_model: RegisteredVersion, valid_df: pd.DataFrame
) -> dg.AssetCheckResult:
    """The new version loads from the registry with pyfunc and, on its input example and on the
    valid rows, predicts what the trained pipeline did; blocking, so a version that cannot serve
    never reaches champion_model. Rerun it from the Checks tab to re-verify the registry."""
    uri = registered_model.uri
    try:
        with registry.within_deadline("loading the new version and predicting"):
            model = registry.load(registered_model.model_name, registered_model.version)
            example = model.predict(pd.DataFrame(model.input_example))
            valid_acc = accuracy(model, valid_df)
    except Exception as error:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.ERROR,
            description=f"{uri} failed to load or predict: {type(error).__name__}: {error}",
            metadata={keys.MODEL_URI: dg.MetadataValue.text(uri)},
        )
    same = abs(valid_acc - registered_model.valid_acc) < 1e-9
    return dg.AssetCheckResult(
        passed=same,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{uri} loads and predicts {len(example)} example rows and {len(valid_df)} valid rows"
            + (
                f", scoring valid_acc {valid_acc:.3f} as trained."
                if same
                else f", but scores valid_acc {valid_acc:.3f} where the trained pipeline scored "
                f"{registered_model.valid_acc:.3f}: the stored model is not the trained one."
            )
        ),
        metadata={
            keys.MODEL_URI: dg.MetadataValue.text(uri),
            "example_predictions": dg.MetadataValue.int(len(example)),
            keys.VALID_ACC: dg.MetadataValue.float(valid_acc),
        },
    )


@dg.asset_check(
    asset=iris_predictions,
    blocking=False,
    description="Live accuracy stays within a margin of the champion's valid_acc (a warning).",
)
def live_accuracy_holds(config: DriftConfig, iris_predictions: Scored) -> dg.AssetCheckResult:
    """Warns when the champion is right on live rows much less often than on its valid rows: on
    the rows scored now (the first sign of drift) or on all it has scored (drift that stayed)."""
    scored = iris_predictions
    floor = scored.champion_valid_acc - config.margin
    measured = []
    if scored.run_accuracy is not None:
        measured.append((scored.run_accuracy, f"the {scored.rows} rows scored now"))
    if scored.live_accuracy is not None:
        measured.append(
            (
                scored.live_accuracy,
                f"all {scored.live_rows} rows version {scored.model_version} has scored",
            )
        )
    metadata = {"floor": dg.MetadataValue.float(floor)}
    if scored.live_accuracy is not None:
        metadata["live_accuracy"] = dg.MetadataValue.float(scored.live_accuracy)
    if scored.run_accuracy is not None:
        metadata["run_accuracy"] = dg.MetadataValue.float(scored.run_accuracy)
    if not measured:
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"No row version {scored.model_version} has scored has a true class to "
            "compare with yet.",
            metadata=metadata,
        )
    low = [what for accuracy, what in measured if accuracy < floor]
    said = " and ".join(f"{accuracy:.3f} on {what}" for accuracy, what in measured)
    valid = f"the champion's valid_acc {scored.champion_valid_acc:.3f}"
    description = f"Live accuracy {said}: " + (
        f"within {config.margin:.2f} of {valid}."
        if not low
        else f"on {' and '.join(low)} more than {config.margin:.2f} below {valid}: the rows may "
        "have drifted from what it was trained on. Retrain on newer rows, or look at what changed."
    )
    return dg.AssetCheckResult(
        passed=not low,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata=metadata,
    )


@dg.asset_check(
    asset=iris_predictions,
    blocking=False,
    description="Every row of iris_data without a prediction could be scored: no feature is "
    "NULL, NaN or infinite (a warning names the rows otherwise).",
)
def every_row_scorable(iris_predictions: Scored) -> dg.AssetCheckResult:
    """Warns, naming ids and columns, about rows iris_predictions left out: the run goes on, and
    the warning stays until the rows are corrected or deleted."""
    unscorable = iris_predictions.unscorable
    metadata = {"unscorable_rows": dg.MetadataValue.int(unscorable.rows)}
    for bad in unscorable.columns:
        if bad.count:
            metadata[f"unscorable_{bad.column}"] = dg.MetadataValue.int(bad.count)
    return dg.AssetCheckResult(
        passed=not unscorable.rows,
        severity=dg.AssetCheckSeverity.WARN,
        description=unscorable.describe()
        or f"Every row of {iris_table.TABLE} without a prediction had four finite features.",
        metadata=metadata,
    )
