"""Dagster assets that train an iris classifier on PostgreSQL rows and register it in MLflow."""
