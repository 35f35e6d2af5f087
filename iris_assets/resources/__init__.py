"""Dagster resources for the services the graph talks to; they know nothing of the assets."""

from iris_assets.resources.mlflow import MLflowResource
from iris_assets.resources.postgres import PostgresResource

__all__ = ["MLflowResource", "PostgresResource"]
