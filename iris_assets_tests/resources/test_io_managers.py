"""Asset values kept with the instance: a value no run stored fails at once, naming the fix."""

from pathlib import Path

import dagster as dg

from iris_assets.assets import fitted_pipeline, iris_data, iris_df, iris_split
from iris_assets.resources.io_managers import LocalValuesIOManager
from iris_assets.resources.postgres import PostgresResource


def test_a_value_never_stored_names_the_selection_that_makes_it(tmp_path: Path) -> None:
    """fitted_pipeline alone, in a new home, fails once (no retry) and says what to run."""
    result = dg.materialize(
        [iris_data, iris_df, iris_split, fitted_pipeline],
        selection=[fitted_pipeline],
        resources={
            "io_manager": LocalValuesIOManager(base_dir=str(tmp_path)),
            # iris_df is not selected: nothing connects to this address.
            "postgres": PostgresResource(database_url="postgresql://unused@127.0.0.1:9/unused"),
        },
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    assert f"train_df has no stored value ({tmp_path / 'train_df'})" in error.message
    assert "Materialize upstream first: --select '*fitted_pipeline'" in error.message
    assert not [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
