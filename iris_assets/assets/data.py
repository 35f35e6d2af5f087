"""The source table and the rows the model is trained on."""

import dagster as dg
import pandas as pd
import psycopg

from iris_assets.assets._shared import GROUP, TRANSIENT_FAILURES, transient_only
from iris_assets.config import IrisDataConfig
from iris_assets.frame_lineage import with_source
from iris_assets.iris_table import ID, LABEL, MODEL_COLUMNS, NEWEST_ROWS, TABLE
from iris_assets.resources.postgres import PostgresResource

iris_data = dg.AssetSpec(
    TABLE,
    group_name=GROUP,
    description="The PostgreSQL table the data generator fills; maintained outside Dagster.",
    kinds={"postgres"},
)


@dg.asset(
    group_name=GROUP,
    deps=[iris_data],
    kinds={"postgres", "pandas"},
    retry_policy=TRANSIENT_FAILURES,
)
@transient_only
def iris_df(
    context: dg.AssetExecutionContext, config: IrisDataConfig, postgres: PostgresResource
) -> dg.MaterializeResult[pd.DataFrame]:
    """The newest `limit` rows of `iris_data`, newest first: the four features and the label.

    The table's `id` becomes the index: it traces every row back to the table, yet is no column
    the model could learn from.
    """
    context.log.info(f"Reading {TABLE} from {postgres.describe()}")
    try:
        frame = postgres.read_frame(
            NEWEST_ROWS, (config.limit,), expected_rows=config.limit, index=ID
        )
    except psycopg.errors.UndefinedTable:
        raise dg.Failure(
            f"Table {TABLE} does not exist in {postgres.public_url()}. Create and fill it with "
            "`iris-assets seed` (or `iris-assets generate`), or point IRIS_DATABASE_URL at the "
            "database that holds it.",
            allow_retries=False,
        ) from None
    except psycopg.errors.UndefinedColumn as error:
        raise dg.Failure(
            f"{TABLE} in {postgres.public_url()} lacks a column the model needs "
            f"({error}); it must have {', '.join((ID, *MODEL_COLUMNS))}, as "
            "`iris-assets seed` creates it.",
            allow_retries=False,
        ) from None
    with_source(frame, postgres.public_url(), TABLE, NEWEST_ROWS.as_string())
    return dg.MaterializeResult(value=frame, metadata=_metadata(frame, postgres))


def _metadata(frame: pd.DataFrame, postgres: PostgresResource) -> dict[str, dg.MetadataValue]:
    """Row counts as numbers the UI plots across runs, and the class balance as a table."""
    counts = frame[LABEL].value_counts().sort_index()
    lines = ["| target | rows |", "| --- | --- |"]
    lines += [f"| {label} | {n} |" for label, n in counts.items()]
    metadata: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(len(frame)),
        "source": dg.MetadataValue.text(postgres.public_url()),
        "rows_per_class": dg.MetadataValue.md("\n".join(lines)),
        **{f"rows_target_{label}": dg.MetadataValue.int(int(n)) for label, n in counts.items()},
    }
    if not frame.empty:
        metadata["min_id"] = dg.MetadataValue.int(int(frame.index.min()))
        metadata["max_id"] = dg.MetadataValue.int(int(frame.index.max()))
    return metadata
