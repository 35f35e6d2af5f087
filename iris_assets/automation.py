"""Retraining: a job over the graph, a sensor on new rows and an optional schedule."""

import dagster as dg
import psycopg

from iris_assets.assets import iris_predictions
from iris_assets.config import IrisDataConfig
from iris_assets.iris_table import TABLE, newest_id_and_rows_after
from iris_assets.resources.postgres import PostgresResource

retrain_job = dg.define_asset_job(
    "retrain_iris",
    selection=dg.AssetSelection.assets(iris_predictions).upstream().materializable(),
    description="Retrain, register, promote if at least as good, and score the new rows, with "
    "every check.",
)

retrain_schedule = dg.ScheduleDefinition(
    name="retrain_iris_daily",
    job=retrain_job,
    cron_schedule="0 3 * * *",
    description="Retrain every day at 03:00, new rows or not.",
)


def build_new_rows_sensor(min_new_rows: int | None = None) -> dg.SensorDefinition:
    """A sensor that requests one retraining run once `min_new_rows` rows arrived (by default a
    whole new training window, iris_df's default `limit`).

    Its cursor is the highest `iris_data` id it has accounted for; Dagster stores it with the
    instance, so a daemon restart neither loses nor repeats a request.
    """
    if min_new_rows is None:
        min_new_rows = IrisDataConfig().limit
    if min_new_rows < 1:
        raise ValueError(f"min_new_rows must be 1 or more, not {min_new_rows}")

    @dg.sensor(
        name="new_iris_rows",
        job=retrain_job,
        minimum_interval_seconds=30,
        description=f"Retrain when at least {min_new_rows} new rows arrived in {TABLE}.",
    )
    def new_iris_rows(
        context: dg.SensorEvaluationContext, postgres: PostgresResource
    ) -> dg.RunRequest | dg.SkipReason:
        last_id = int(context.cursor) if context.cursor else None
        try:
            with postgres.connect() as conn:
                latest_id, new_rows = newest_id_and_rows_after(conn, last_id or 0)
        except psycopg.errors.UndefinedTable:
            return dg.SkipReason(f"{TABLE} does not exist yet in {postgres.public_url()}.")
        if last_id is None:
            context.update_cursor(str(latest_id))
            return dg.SkipReason(
                f"Started watching {TABLE} at id {latest_id}; waiting for {min_new_rows} new rows."
            )
        if new_rows < min_new_rows:
            return dg.SkipReason(
                f"{new_rows} new rows since id {last_id}; waiting for {min_new_rows}."
            )
        context.update_cursor(str(latest_id))
        return dg.RunRequest(
            run_key=f"{TABLE}-to-{latest_id}",
            tags={"iris_data.max_id": str(latest_id), "iris_data.new_rows": str(new_rows)},
        )

    return new_iris_rows
