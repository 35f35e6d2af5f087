"""What can make the training rows unusable, each said with the column, the count and the fix."""

import numpy as np
import pandas as pd

from iris_assets.iris_table import FEATURES, LABEL, TABLE


def schema_problem(frame: pd.DataFrame) -> str | None:
    """The features must be numbers and the label an integer class.

    The columns themselves are there: iris_df's query names them, and fails without them.
    """
    if frame.empty:
        return None
    for column in FEATURES:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            row_id, value = _first_non_numeric(frame[column])
            return (
                f"{TABLE}.{column} is not numeric (e.g. {value!r} in the row with id {row_id}); "
                "the features must be float8: fix the column type or the rows."
            )
    labels = frame[LABEL].dropna()
    if not pd.api.types.is_numeric_dtype(labels) or not (labels == labels.round()).all():
        return f"{TABLE}.{LABEL} must hold integer class labels; fix the column type or the rows."
    return None


def missing_values_problem(frame: pd.DataFrame) -> str | None:
    """No NULL, NaN or infinite value may reach the scaler or the SVC."""
    counts = {}
    for column in (*FEATURES, LABEL):
        values = pd.to_numeric(frame[column], errors="coerce")  # text counts as missing
        bad = int(values.isna().sum() + np.isinf(values.to_numpy(dtype=float)).sum())
        if bad:
            counts[column] = bad
    if not counts:
        return None
    listed = ", ".join(f"{column}: {n}" for column, n in counts.items())
    return (
        f"{sum(counts.values())} NULL, NaN or infinite value(s) among the {len(frame)} newest rows "
        f"of {TABLE} ({listed}); delete or correct those rows."
    )


def class_problem(frame: pd.DataFrame) -> str | None:
    """A classifier needs at least two classes to tell apart."""
    classes = sorted(frame[LABEL].dropna().unique().tolist())
    if len(classes) >= 2:
        return None
    found = f"only class {classes[0]}" if classes else "no class at all"
    return (
        f"The {len(frame)} newest rows of {TABLE} hold {found}; the SVC needs at least two. "
        "Insert rows of other classes (`iris-assets generate`) or raise iris_df's `limit`."
    )


def row_count_problem(frame: pd.DataFrame, min_rows: int) -> str | None:
    """Enough rows for both sides of the split to mean something."""
    if len(frame) >= min_rows:
        return None
    return (
        f"{TABLE} gave {len(frame)} row(s); training needs at least {min_rows}. "
        "Insert rows (`iris-assets seed` or `iris-assets generate`) or point IRIS_DATABASE_URL "
        "at the database that holds them."
    )


def schema_checked(frame: pd.DataFrame) -> str:
    """What a passing schema check saw."""
    return f"{', '.join(FEATURES)} are numeric and {LABEL} holds integer classes."


def missing_values_checked(frame: pd.DataFrame) -> str:
    """What a passing missing-values check saw."""
    columns = len(FEATURES) + 1
    return f"No NULL, NaN or infinite value in {len(frame)} rows of {columns} columns."


def classes_checked(frame: pd.DataFrame) -> str:
    """What a passing class check saw: each class and its rows."""
    counts = frame[LABEL].value_counts().sort_index()
    listed = ", ".join(f"{int(label)} ({n} rows)" for label, n in counts.items())
    return f"{len(counts)} classes: {listed}."


def row_count_checked(frame: pd.DataFrame, min_rows: int) -> str:
    """What a passing row-count check saw."""
    return f"{len(frame)} rows; at least {min_rows} are needed."


def missing_classes_problem(frame: pd.DataFrame, table_classes: list[int]) -> str | None:
    """Classes the table holds that the training window lacks: the model can never predict them."""
    window = sorted(int(label) for label in frame[LABEL].dropna().unique())
    missing = [label for label in table_classes if label not in window]
    if not missing:
        return None
    return (
        f"The {len(frame)} newest rows of {TABLE} hold classes {window}, but the table also holds "
        f"{missing}: the model cannot predict {missing}. Raise iris_df's `limit`, or insert newer "
        "rows of those classes."
    )


def _first_non_numeric(values: pd.Series) -> tuple[object, object]:
    """The id and value of the first entry that is not a number (or the first entry)."""
    bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
    found = values[bad] if bad.any() else values
    return found.index[0], found.iloc[0]
