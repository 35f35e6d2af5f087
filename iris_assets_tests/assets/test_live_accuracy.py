"""Live accuracy across databases: predictions and true classes meet by row id."""

import pandas as pd

from iris_assets.assets._live_accuracy import count_right


def test_only_rows_with_a_true_class_count() -> None:
    """Ids without a class (deleted rows, unlabelled ones) are left out; repeated ids (a view)
    count once."""
    predicted = pd.Series([0, 1, 2, 2], index=pd.Index([1, 2, 3, 4], name="id"))
    labels = pd.Series([0, 2, 2, 1], index=pd.Index([1, 2, 3, 3], name="id"))
    assert count_right(predicted, labels) == (3, 2)


def test_no_labels_is_no_rows() -> None:
    predicted = pd.Series([0], index=pd.Index([1], name="id"))
    assert count_right(predicted, pd.Series([], dtype=float)) == (0, 0)
