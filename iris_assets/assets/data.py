"""The source table and the rows the model is trained on."""

import dagster as dg
import pandas as pd
import psycopg
from psycopg import sql

from iris_assets.config import IrisDataConfig
from iris_assets.iris_table import FEATURES, LABEL, TABLE
from iris_assets.resources.postgres import PostgresResource

GROUP = "iris"
COLUMNS = (*FEATURES, LABEL)

iris_data = dg.AssetSpec(
    TABLE,
    group_name=GROUP,
    description="The PostgreSQL table the data generator fills; maintained outside Dagster.",
    kinds={"postgres"},
)

NEWEST_ROWS = sql.SQL("SELECT {columns} FROM {table} ORDER BY {id} DESC LIMIT %s").format(
    columns=sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
    table=sql.Identifier(TABLE),
    id=sql.Identifier("id"),
)


@dg.asset(group_name=GROUP, deps=[iris_data], kinds={"postgres", "pandas"})
def iris_df(
    context: dg.AssetExecutionContext, config: IrisDataConfig, postgres: PostgresResource
) -> dg.MaterializeResult[pd.DataFrame]:
    """The newest `limit` rows of `iris_data`, newest first: the four features and the label."""
    context.log.info(f"Reading {TABLE} from {postgres.describe()}")
    try:
        frame = postgres.read_frame(NEWEST_ROWS, (config.limit,), columns=COLUMNS)
    except psycopg.errors.UndefinedTable:
        raise dg.Failure(
            f"Table {TABLE} does not exist in {postgres.public_url()}. Create and fill it with "
            "`iris-assets seed` (or `iris-assets generate`), or point IRIS_DATABASE_URL at the "
            "database that holds it."
        ) from None
    return dg.MaterializeResult(
        value=frame,
        metadata={
            "dagster/row_count": dg.MetadataValue.int(len(frame)),
            "source": dg.MetadataValue.text(postgres.public_url()),
        },
    )
