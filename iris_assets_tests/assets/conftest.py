"""Small inputs shared by the asset tests."""

import pandas as pd
import pytest

from iris_assets import iris_table


@pytest.fixture(scope="session")
def iris_frame() -> pd.DataFrame:
    """The 150 iris rows as `iris_df` shapes them: four features and the label, indexed by id."""
    frame = pd.DataFrame(
        list(iris_table.iris_rows()), columns=[*iris_table.FEATURES, iris_table.LABEL]
    )
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="id")
    return frame
