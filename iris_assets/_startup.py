"""Start-up of a process that loads the definitions: quieter, and cheaper on the garbage collector.

The definitions import MLflow, scikit-learn and pandas: a large heap of objects that live as long
as the process, and almost no garbage. Left running, the collector would walk that growing heap
again and again for nothing, once more at its first pass after the imports, and again at exit.
So the collector is paused for the imports, and what they made is frozen out of its sight before
it resumes; what the definitions made after them is frozen once they are built. The figures are
in docs/performance.md.
"""

import gc
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

_DAGSTER_BETA_NOTICES = (
    "Parameter `include_sources`",
    "Handling yaml-defined logging configuration",
)
"""Dagster's own beta notices, about its CLI's selection parsing and the instance's log handler
(dagster.yaml attaches iris_assets.run_summary): nothing a user of this project can act on."""


def hide_dagster_beta_notices() -> None:
    for notice in _DAGSTER_BETA_NOTICES:
        warnings.filterwarnings("ignore", message=notice, category=dg.BetaWarning)


@contextmanager
def heavy_imports() -> Iterator[None]:
    """Import inside the block with the collector paused; freeze what was made, then resume it.

    `skops.io` comes first: `log_model` writes the model with skops, whose import looks for each
    numpy and SciPy ufunc in every loaded module, in load order. Before MLflow and pandas add
    another 1,000 modules to search, that search is shortest.
    """
    gc.disable()
    try:
        import skops.io  # noqa: F401

        yield
    finally:
        gc.freeze()
        gc.enable()


def freeze() -> None:
    """Take what the process made so far out of the collector's sight: no later collection walks
    it, the last one at exit included."""
    gc.freeze()
