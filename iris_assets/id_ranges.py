"""Sets of row ids as runs of consecutive ids, so that a set held in one database can be handed
to a query in another in a few numbers instead of one per row.

Scored ids are mostly consecutive (rows are scored newest first, in runs), so the ids already
scored make a handful of islands, and the ids still to score lie in the gaps between them.
"""

from collections.abc import Iterable, Sequence

import numpy as np

Island = tuple[int, int]
"""The first and last id of a run of consecutive ids, both included."""

LOWEST = -(2**63)
HIGHEST = 2**63 - 1
"""The bounds of PostgreSQL's bigint: every id of an integer column lies between them."""


def islands(ids: Iterable[int]) -> list[Island]:
    """The runs of consecutive ids among `ids` (in any order, repeats allowed), lowest first."""
    values = np.unique(np.fromiter(ids, dtype=np.int64))
    if values.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(values) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [values.size - 1]))
    return [(int(values[s]), int(values[e])) for s, e in zip(starts, ends, strict=True)]


def gaps(islands: Sequence[Island]) -> tuple[list[int], list[int]]:
    """The ids outside `islands` (sorted, disjoint) as open intervals (low, high): every id with
    low < id < high for some interval, and no other. Lows and highs come as two lists, the
    shape `unnest(lows, highs)` takes them in SQL."""
    lows = [LOWEST, *(last for _, last in islands)]
    highs = [*(first for first, _ in islands), HIGHEST]
    return lows, highs


def split(islands: Sequence[Island]) -> tuple[list[int], list[int]]:
    """`islands` as the lists of their first and last ids, for `unnest(firsts, lasts)`."""
    return [first for first, _ in islands], [last for _, last in islands]
