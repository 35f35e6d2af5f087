"""Query rows into a DataFrame through psycopg: the reader for small results.

ADBC (`_arrow_rows`) wins on large reads, but each of its connections first reads the server's
type catalogue and its driver adds to the process's memory. For a few thousand rows psycopg,
which the resource holds anyway, is faster. The frame is the one `_arrow_rows` builds
from the same rows: the column types below, integers meeting a NULL as floats (NaN), booleans
meeting one as objects, anything else as Python objects.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

_NUMPY_TYPES: dict[str, np.dtype] = {
    "int2": np.dtype(np.int64),
    "int4": np.dtype(np.int64),
    "int8": np.dtype(np.int64),
    "float4": np.dtype(np.float32),
    "float8": np.dtype(np.float64),
    "bool": np.dtype(np.bool_),
    "timestamp": np.dtype("datetime64[us]"),
    "date": np.dtype("datetime64[ms]"),
}
_OBJECT = np.dtype(object)


def read_frame(
    conn: psycopg.Connection,
    query: sql.Composable,
    params: Sequence[Any] = (),
    index: str | None = None,
) -> pd.DataFrame:
    """The rows of `query`, bound to `params`, one numpy column each, `index` as the index."""
    cursor = conn.execute(query, params or None)
    if cursor.description is None:
        raise psycopg.ProgrammingError("read_frame needs a query; this statement returns no rows")
    names = [column.name for column in cursor.description]
    types = [conn.adapters.types.get(column.type_code) for column in cursor.description]
    rows = cursor.fetchall()
    values_by_column = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    data = {
        name: np.array(values, dtype=_dtype(type_info.name if type_info else "", values))
        for name, type_info, values in zip(names, types, values_by_column, strict=True)
    }
    labels = pd.Index(data.pop(index), name=index, copy=False) if index else None
    return pd.DataFrame(data, index=labels, copy=False)


def _dtype(type_name: str, values: Sequence[Any]) -> np.dtype:
    dtype = _NUMPY_TYPES.get(type_name, _OBJECT)
    if dtype.kind in "ib" and None in values:
        return np.dtype(np.float64) if dtype.kind == "i" else _OBJECT
    return dtype
