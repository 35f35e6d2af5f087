"""The champion at work: rows of iris_data scored into iris_prediction, and how right it is live."""

from dataclasses import dataclass

import dagster as dg
import pandas as pd
from mlflow.pyfunc import load_model

from iris_assets import prediction_table
from iris_assets.assets._champion import Champion, version_uri
from iris_assets.assets._shared import GROUP, TRANSIENT_FAILURES, transient_only
from iris_assets.assets.data import iris_data
from iris_assets.config import PredictionsConfig
from iris_assets.iris_table import FEATURES, ID, LABEL
from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource


@dataclass(frozen=True)
class Scored:
    """What one materialization scored, for the drift check."""

    rows: int
    model_version: int | None
    live_accuracy: float | None
    champion_valid_acc: float


@dg.asset(
    group_name=GROUP,
    deps=[iris_data],
    kinds={"postgres", "mlflow"},
    retry_policy=TRANSIENT_FAILURES,
)
@transient_only
def iris_predictions(
    context: dg.AssetExecutionContext,
    config: PredictionsConfig,
    mlflow: MLflowResource,
    postgres: PostgresResource,
    champion_model: Champion,
) -> dg.MaterializeResult[Scored]:
    """Scores the newest rows of iris_data without a prediction (at most `limit`) with
    `models:/<model_name>@<alias>` and upserts them into iris_prediction: a rerun adds nothing
    twice. iris_data keeps the true class, so the live accuracy of the champion shows as well."""
    with postgres.connect() as conn:
        prediction_table.create_table(conn)
    rows = postgres.read_frame(
        prediction_table.UNSCORED_ROWS,
        (config.limit,),
        expected_rows=config.limit,
        index=ID,
    )
    name, alias = champion_model.model_name, champion_model.alias
    if rows.empty:
        context.log.info(f"Every row of iris_data has a prediction in {prediction_table.TABLE}")
        scored = Scored(0, None, None, champion_model.valid_acc)
        return dg.MaterializeResult(value=scored, metadata={"rows_scored": dg.MetadataValue.int(0)})
    with mlflow.activated("loading the champion and predicting"):
        # The alias, read now: a run that finished since may have moved it.
        version = mlflow.alias_version(name, alias) or champion_model.version
        predicted = load_model(version_uri(name, version)).predict(rows[list(FEATURES)])
    predictions = pd.Series(predicted, index=rows.index, name="predicted").astype(int)
    with postgres.connect() as conn:
        prediction_table.upsert(conn, [(int(i), int(p), version) for i, p in predictions.items()])
    labelled = rows[LABEL].notna()
    live = (
        float((predictions[labelled] == rows.loc[labelled, LABEL].astype(int)).mean())
        if labelled.any()
        else None
    )
    context.log.info(
        f"Scored {len(rows)} rows with version {version} of {name} ({alias}) into "
        f"{prediction_table.TABLE}" + (f"; live accuracy {live:.3f}" if live is not None else "")
    )
    scored = Scored(len(rows), version, live, champion_model.valid_acc)
    return dg.MaterializeResult(value=scored, metadata=_metadata(scored, predictions))


def _metadata(scored: Scored, predictions: pd.Series) -> dict[str, dg.MetadataValue]:
    """Counts and live accuracy as numbers the UI plots across runs, classes as a table too."""
    counts = predictions.value_counts().sort_index()
    lines = ["| predicted | rows |", "| --- | --- |"]
    lines += [f"| {label} | {n} |" for label, n in counts.items()]
    metadata: dict[str, dg.MetadataValue] = {
        "rows_scored": dg.MetadataValue.int(scored.rows),
        "model_version": dg.MetadataValue.int(scored.model_version or 0),
        "table": dg.MetadataValue.text(prediction_table.TABLE),
        "predictions_per_class": dg.MetadataValue.md("\n".join(lines)),
        **{f"predicted_{label}": dg.MetadataValue.int(int(n)) for label, n in counts.items()},
        "champion_valid_acc": dg.MetadataValue.float(scored.champion_valid_acc),
    }
    if scored.live_accuracy is not None:
        metadata["live_accuracy"] = dg.MetadataValue.float(scored.live_accuracy)
    return metadata
