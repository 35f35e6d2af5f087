"""The project's graph with resources of a test's choosing, run in this process."""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from iris_assets.definitions import defs

_CHECKS_ONLY = dg.define_asset_job("checks_only", selection=dg.AssetSelection.all_asset_checks())


def run_graph(
    resources: Mapping[str, Any],
    instance: dg.DagsterInstance,
    ops: Mapping[str, dict] | None = None,
    checks_only: bool = False,
    assets: Sequence[str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize every asset, or only `assets` with their checks, or run only the checks, with
    `ops` config; failures are returned.

    Without a `predictions_postgres`, predictions go to the database of `postgres`, as they do
    while IRIS_PREDICTIONS_DATABASE_URL is unset.
    """
    if "postgres" in resources:
        resources = {"predictions_postgres": resources["postgres"], **resources}
    selected = dg.define_asset_job("selected", selection=dg.AssetSelection.assets(*(assets or [])))
    test_defs = dg.Definitions(
        assets=list(defs.assets or []),
        asset_checks=list(defs.asset_checks or []),
        jobs=[_CHECKS_ONLY, selected],
        resources=dict(resources),
        executor=dg.in_process_executor,
    )
    if checks_only:
        job = test_defs.resolve_job_def(_CHECKS_ONLY.name)
    elif assets:
        job = test_defs.resolve_job_def(selected.name)
    else:
        job = test_defs.resolve_implicit_global_asset_job_def()
    run_config = {"ops": {name: {"config": config} for name, config in (ops or {}).items()}}
    return job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Everything a user reads about a failed run: step errors with their causes, failed checks."""
    errors = [event.step_failure_data.error for event in result.get_step_failure_events()]
    checks = [e.description for e in result.get_asset_check_evaluations() if not e.passed]
    return "\n".join([*(error.to_string() for error in errors if error), *filter(None, checks)])
