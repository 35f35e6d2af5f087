"""The iris asset graph: source table, training data, fitted pipeline, metrics, registered model."""

from iris_assets.assets.data import iris_data, iris_df
from iris_assets.assets.registry import registered_model
from iris_assets.assets.training import fitted_pipeline, iris_split, metrics

__all__ = ["fitted_pipeline", "iris_data", "iris_df", "iris_split", "metrics", "registered_model"]
