"""Query rows into a DataFrame through ADBC's PostgreSQL driver: Arrow batches over binary COPY.

psycopg hands rows over as Python tuples: for a large read, slow and many times the frame's
memory (docs/performance.md). ADBC decodes PostgreSQL's binary COPY stream in C into Arrow
batches, and each batch is copied into the frame's columns as it arrives, so at most one batch is
in flight.
"""

import adbc_driver_postgresql.dbapi as adbc
import numpy as np
import pandas as pd

BATCH_BYTES = 4 << 20
"""Arrow batch size: small enough to keep peak memory near the frame's, large enough for speed."""
MAX_PREALLOCATED_ROWS = 1 << 24
"""Beyond this many rows (128 MB a column), a huge LIMIT over a small table asks the system for
no more address space than it can give; longer results grow the columns by doubling."""


def read_frame(
    conninfo: str, query: str, expected_rows: int | None = None, index: str | None = None
) -> pd.DataFrame:
    """The rows of `query`, one numpy column each (NULL becomes NaN), `index` as the index.

    `expected_rows` (a LIMIT) sizes the columns once; pages of it that no row fills cost no
    memory. Without it, columns grow by doubling.
    """
    with adbc.connect(conninfo) as conn, conn.cursor() as cursor:
        cursor.adbc_statement.set_options(
            **{"adbc.postgresql.batch_size_hint_bytes": str(BATCH_BYTES)}
        )
        cursor.execute(query)
        reader = cursor.fetch_record_batch()
        names = list(reader.schema.names)
        columns = [
            np.empty(
                min(expected_rows or 1024, MAX_PREALLOCATED_ROWS),
                dtype=_pandas_dtype(field.type.to_pandas_dtype()),
            )
            for field in reader.schema
        ]
        rows = 0
        for batch in reader:
            end = rows + batch.num_rows
            for position, array in enumerate(batch.columns):
                values = array.to_numpy(zero_copy_only=False)
                columns[position] = _fitting(columns[position], values.dtype, rows, end)
                columns[position][rows:end] = values
            rows = end
    data = {name: column[:rows] for name, column in zip(names, columns, strict=True)}
    # Built around the columns as they are: `set_index` or consolidation would copy them all.
    labels = pd.Index(data.pop(index), name=index, copy=False) if index else None
    return pd.DataFrame(data, index=labels, copy=False)


def _pandas_dtype(arrow_dtype: type) -> np.dtype:
    """int64 for every integer type, as pandas reads SQL: a model's signature stays `long`."""
    dtype = np.dtype(arrow_dtype)
    return np.dtype(np.int64) if dtype.kind in "iu" else dtype


def _fitting(column: np.ndarray, dtype: np.dtype, filled: int, rows: int) -> np.ndarray:
    """`column`, or a copy of its `filled` rows with room for `rows` and a dtype holding `dtype`.

    An integer column meets NULLs as floats (NaN) and becomes a float column.
    """
    wanted = np.result_type(column.dtype, dtype)
    if rows <= len(column) and wanted == column.dtype:
        return column
    fitting = np.empty(max(rows, 2 * len(column)), wanted)
    fitting[:filled] = column[:filled]
    return fitting
