"""Names of the materialization metadata that other code reads back: one spelling for both sides.

TRAIN_ACC and VALID_ACC also key the `metrics` value, which `registered_model` and the quality
gate read. The splits' `train_size` and `random_state`, which `registered_model` reads back, are
named by `SplitConfig`'s fields.
"""

MODEL_NAME = "model_name"
MODEL_VERSION = "model_version"
MODEL_URI = "model_uri"
CHAMPION_ALIAS = "champion_alias"
PROMOTED = "promoted"
PREVIOUS_CHAMPION_VERSION = "previous_champion_version"
PREVIOUS_CHAMPION_VALID_ACC = "previous_champion_valid_acc"
MODEL_VERSION_URL = "model_version_url"
MLFLOW_UI_COMMAND = "mlflow_ui_command"
TRAIN_ACC = "train_acc"
VALID_ACC = "valid_acc"

MLFLOW_DAGSTER_RUN_ID = "dagster.run_id"
"""The MLflow run's tag naming the Dagster run that logged it."""
MLFLOW_DAGSTER_ASSET_KEY = "dagster.asset_key"
"""The MLflow run's tag naming the asset that logged it."""
