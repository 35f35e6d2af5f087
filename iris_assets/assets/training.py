"""The seeded split, the fitted pipeline and its accuracy."""

import math
from collections.abc import Iterator

import dagster as dg
import pandas as pd
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from iris_assets import metadata_keys as keys
from iris_assets.assets._shared import GROUP
from iris_assets.config import SplitConfig, SVCConfig
from iris_assets.frame_lineage import with_split
from iris_assets.iris_table import FEATURES, LABEL


@dg.multi_asset(
    outs={
        "train_df": dg.AssetOut(
            group_name=GROUP, kinds={"pandas"}, is_required=False, description="Training rows."
        ),
        "valid_df": dg.AssetOut(
            group_name=GROUP, kinds={"pandas"}, is_required=False, description="Held-out rows."
        ),
    },
    can_subset=True,
)
def iris_split(
    context: dg.AssetExecutionContext, config: SplitConfig, iris_df: pd.DataFrame
) -> Iterator[dg.Output[pd.DataFrame]]:
    """One seeded shuffle feeds both splits, so they never overlap whichever one is selected.

    Each split carries the config that made it (frame_lineage), which `registered_model` logs
    with the model, and shows it in its metadata for the UI.
    """
    valid_rows = math.ceil(len(iris_df) * (1 - config.train_size))
    if len(iris_df) - valid_rows < 2 or valid_rows < 1:
        raise dg.Failure(
            f"train_size {config.train_size} splits {len(iris_df)} rows into "
            f"{len(iris_df) - valid_rows} to train and {valid_rows} to score; both need rows. "
            "Raise iris_df's limit or choose a train_size nearer 0.8."
        )
    train, valid = train_test_split(
        iris_df, train_size=config.train_size, random_state=config.random_state
    )
    for name, frame in (("train_df", train), ("valid_df", valid)):
        if name in context.op_execution_context.selected_output_names:
            metadata = {"dagster/row_count": len(frame), **config.model_dump()}
            split = with_split(frame.copy(), config.model_dump())
            yield dg.Output(split, output_name=name, metadata=metadata)


@dg.asset(group_name=GROUP, kinds={"sklearn"})
def fitted_pipeline(config: SVCConfig, train_df: pd.DataFrame) -> Pipeline:
    """`StandardScaler` then `SVC`, fitted on the training rows."""
    pipeline = Pipeline([("scaler", StandardScaler()), ("svc", SVC(**config.svc_params()))])
    return pipeline.fit(train_df[list(FEATURES)], train_df[LABEL])


@dg.asset(group_name=GROUP)
def metrics(
    fitted_pipeline: Pipeline, train_df: pd.DataFrame, valid_df: pd.DataFrame
) -> dg.MaterializeResult[dict[str, float]]:
    """Train and valid accuracy, as numbers the UI plots across materializations."""
    scores = {
        keys.TRAIN_ACC: accuracy(fitted_pipeline, train_df),
        keys.VALID_ACC: accuracy(fitted_pipeline, valid_df),
    }
    return dg.MaterializeResult(
        value=scores, metadata={name: dg.MetadataValue.float(v) for name, v in scores.items()}
    )


def accuracy(pipeline: Pipeline, rows: pd.DataFrame) -> float:
    """Share of `rows` whose label the pipeline predicts."""
    return float(accuracy_score(rows[LABEL], pipeline.predict(rows[list(FEATURES)])))
