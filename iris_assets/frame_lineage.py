"""What a frame of rows knows of its own making, carried with the rows: where they were read, and
the split that made a training or valid frame.

pandas keeps `DataFrame.attrs` through slicing and pickling, so the IO manager hands a later step
these facts with the very value it trains on: a partial run in another process, after a setting
changed, still logs where its rows really came from. (Dagster gives an input's loader no runtime
metadata of the output it loads, dagster-io/dagster#20094, so metadata cannot carry them.)
`attrs` is marked experimental by pandas: test_frame_lineage fails loudly if an upgrade drops it.
"""

from typing import Any

import pandas as pd

_SOURCE = "iris_assets.source"
_SPLIT = "iris_assets.split"


def with_source(frame: pd.DataFrame, database: str, table: str, query: str) -> pd.DataFrame:
    """`frame`, recording the database (no password), table and query it was read with."""
    frame.attrs[_SOURCE] = {"database": database, "table": table, "query": query}
    return frame


def source_of(frame: pd.DataFrame) -> dict[str, str] | None:
    """Where the rows were read, or None for a frame stored before it was recorded."""
    return frame.attrs.get(_SOURCE)


def with_split(frame: pd.DataFrame, split: dict[str, Any]) -> pd.DataFrame:
    """`frame`, recording the split config that made it."""
    frame.attrs[_SPLIT] = dict(split)
    return frame


def split_of(frame: pd.DataFrame) -> dict[str, Any]:
    """The split config that made the frame; empty for one stored before it was recorded."""
    return dict(frame.attrs.get(_SPLIT, {}))
