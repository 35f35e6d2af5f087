"""The split, the fitted pipeline and the metrics, on the bundled iris rows."""

import dagster as dg
import pandas as pd
from sklearn.model_selection import train_test_split

from iris_assets.assets import fitted_pipeline, iris_split, metrics
from iris_assets.assets.training import accuracy
from iris_assets.config import SVCConfig
from iris_assets.iris_table import FEATURES, LABEL


def _materialize_split(frame: pd.DataFrame, selection: list[str]) -> dg.ExecuteInProcessResult:
    @dg.asset(name="iris_df")
    def iris_df_stand_in() -> pd.DataFrame:
        """Stands in for the PostgreSQL read."""
        return frame

    return dg.materialize([iris_df_stand_in, iris_split], selection=selection)


def test_split_is_the_tutorials(iris_frame: pd.DataFrame) -> None:
    """The rows of the tutorial's `train_test_split(X, y, train_size=0.8, random_state=2022)`."""
    result = _materialize_split(iris_frame, ["iris_df", "train_df", "valid_df"])
    train, valid = (
        result.output_for_node("iris_split", "train_df"),
        result.output_for_node("iris_split", "valid_df"),
    )
    x_train, x_valid, _, _ = train_test_split(
        iris_frame.drop(columns=LABEL), iris_frame[LABEL], train_size=0.8, random_state=2022
    )
    assert list(train.index) == list(x_train.index)
    assert list(valid.index) == list(x_valid.index)
    assert (len(train), len(valid)) == (120, 30)
    split_metadata = [m.metadata for m in result.asset_materializations_for_node("iris_split")]
    assert len(split_metadata) == 2
    for metadata in split_metadata:
        assert (metadata["train_size"].value, metadata["random_state"].value) == (0.8, 2022)


def test_each_split_materializes_on_its_own(iris_frame: pd.DataFrame) -> None:
    """Selecting `valid_df` alone materializes it, and not `train_df`."""
    result = _materialize_split(iris_frame, ["iris_df", "valid_df"])
    keys = {event.asset_key for event in result.get_asset_materialization_events()}
    assert dg.AssetKey("valid_df") in {key for key in keys}
    assert dg.AssetKey("train_df") not in keys


def test_fitted_pipeline_scales_then_classifies(iris_frame: pd.DataFrame) -> None:
    """A StandardScaler then an SVC with the configured hyperparameters, fitted on features only."""
    pipeline = fitted_pipeline(config=SVCConfig(kernel="linear", C=0.5), train_df=iris_frame)
    assert list(pipeline.named_steps) == ["scaler", "svc"]
    assert (pipeline.named_steps["svc"].kernel, pipeline.named_steps["svc"].C) == ("linear", 0.5)
    assert list(pipeline.feature_names_in_) == list(FEATURES)
    assert accuracy(pipeline, iris_frame) > 0.9


def test_metrics_are_numeric_metadata(iris_frame: pd.DataFrame) -> None:
    """train_acc and valid_acc are returned and recorded as float metadata."""
    train, valid = iris_frame.iloc[:120], iris_frame.iloc[120:]
    pipeline = fitted_pipeline(config=SVCConfig(), train_df=train)
    result = metrics(fitted_pipeline=pipeline, train_df=train, valid_df=valid)
    assert result.value == {
        "train_acc": accuracy(pipeline, train),
        "valid_acc": accuracy(pipeline, valid),
    }
    for name in ("train_acc", "valid_acc"):
        assert isinstance(result.metadata[name], dg.FloatMetadataValue)
        assert result.metadata[name].value == result.value[name]
