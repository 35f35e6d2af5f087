"""How often one model version was right on every row it has scored that has a true class.

Where `iris_prediction` shares a database (and user) with `iris_data`, one join answers. Where it
lives elsewhere, no join can: the version's predictions come from their database, the true classes
of those rows from the other, read by runs of consecutive ids, and the two meet here.
"""

import pandas as pd

from iris_assets import id_ranges, iris_table, prediction_table
from iris_assets.iris_table import ID, LABEL
from iris_assets.resources.postgres import PostgresResource


def live_counts(
    source: PostgresResource, predictions: PostgresResource, version: int
) -> tuple[int, int]:
    """Rows `version` predicted that have a true class in iris_data, and how many it got right."""
    if source.conninfo() == predictions.conninfo():
        with predictions.connect() as conn:
            return prediction_table.live_counts(conn, version)
    predicted = predictions.read_frame(prediction_table.VERSION_PREDICTIONS, (version,), index=ID)
    if predicted.empty:
        return 0, 0
    firsts, lasts = id_ranges.split(id_ranges.islands(predicted.index))
    labels = source.read_frame(iris_table.LABELS_IN_RANGES, (firsts, lasts), index=ID)
    return count_right(predicted["predicted"], labels[LABEL])


def count_right(predicted: pd.Series, labels: pd.Series) -> tuple[int, int]:
    """Of the ids in `predicted` that `labels` has a class for: how many, and how many agree."""
    # A view as iris_data may repeat an id; its first class counts.
    truth = labels[~labels.index.duplicated()].reindex(predicted.index)
    known = truth.notna()
    right = predicted[known].astype(int) == truth[known].astype(int)
    return int(known.sum()), int(right.sum())
