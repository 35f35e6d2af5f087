"""Dagster resources for the services the graph talks to; they know nothing of the assets.

Import each from its own module, so a caller that needs PostgreSQL does not import MLflow.
"""
