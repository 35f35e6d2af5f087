"""The iris asset graph: source table, training data, model, registry, champion, predictions."""

from iris_assets.assets.champion import champion_model
from iris_assets.assets.data import iris_data, iris_df
from iris_assets.assets.predictions import iris_predictions
from iris_assets.assets.registry import registered_model
from iris_assets.assets.training import fitted_pipeline, iris_split, metrics

__all__ = [
    "champion_model",
    "fitted_pipeline",
    "iris_data",
    "iris_df",
    "iris_predictions",
    "iris_split",
    "metrics",
    "registered_model",
]
