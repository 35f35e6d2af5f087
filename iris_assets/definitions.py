"""The one place that wires assets, resources and executor together."""

import dagster as dg

from iris_assets import _startup, settings
from iris_assets.console import console_logger

_startup.hide_dagster_beta_notices()

with _startup.heavy_imports():
    from iris_assets.assets import (
        champion_model,
        fitted_pipeline,
        iris_data,
        iris_df,
        iris_predictions,
        iris_split,
        metrics,
        registered_model,
    )
    from iris_assets.automation import build_new_rows_sensor, retrain_job, retrain_schedule
    from iris_assets.checks import (
        every_row_scorable,
        iris_df_has_every_class,
        iris_df_is_trainable,
        live_accuracy_holds,
        new_version_predicts,
        valid_acc_floor,
    )
    from iris_assets.resources.from_env import resources_from_env

resources = resources_from_env()
"""Built first: it resolves the settings (iris_assets.settings) that the rest reads."""
defs = dg.Definitions(
    assets=[
        iris_data,
        iris_df,
        iris_split,
        fitted_pipeline,
        metrics,
        registered_model,
        champion_model,
        iris_predictions,
    ],
    asset_checks=[
        iris_df_is_trainable,
        iris_df_has_every_class,
        valid_acc_floor,
        new_version_predicts,
        live_accuracy_holds,
        every_row_scorable,
    ],
    jobs=[retrain_job],
    sensors=[build_new_rows_sensor(settings.retrain_min_new_rows())],
    schedules=[retrain_schedule],
    resources=resources,
    # Dagster's console, which set to DEBUG in run config prints the stack traces that the
    # instance's console handler (iris_assets.console) leaves out at INFO.
    loggers={"console": console_logger},
    # Steps share one process: the multiprocess default re-imports this module for every step.
    executor=dg.in_process_executor,
)

_startup.freeze()
