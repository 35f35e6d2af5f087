"""What this Dagster instance knows of other runs: whether one has finished."""

from collections.abc import Callable

import dagster as dg


def abandoned_by(context: dg.AssetExecutionContext) -> Callable[[str], bool]:
    """Whether nobody will end work that the Dagster run with the given id left unfinished: an
    earlier attempt of this step, or a run this instance knows has finished. Other instances'
    runs may be going, and are left alone."""

    def abandoned(owner: str) -> bool:
        if owner == context.run.run_id:
            return True
        run = context.instance.get_run_by_id(owner) if owner else None
        return run is not None and run.is_finished

    return abandoned
