"""Where the assets keep the values they hand each other, and what a missing one tells a person."""

from typing import Any

import dagster as dg

# Private: the public FilesystemIOManager builds this class and offers no hook for a missing
# input; test_private_apis fails loudly if an upgrade moves it.
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager

from iris_assets.local_instance import describe_instance, missing_console_settings


class LocalValuesIOManager(dg.FilesystemIOManager):
    """Dagster's filesystem IO manager; an input never stored fails at once, saying what to run.

    Dagster's own raises `FileNotFoundError`, which the steps' retry policy retries twice before
    four stack traces end the run. Nothing stored appears by waiting.
    """

    def create_io_manager(
        self, context: dg.InitResourceContext
    ) -> PickledObjectFilesystemIOManager:
        base_dir = self.base_dir or context.instance.storage_directory()
        say_where_runs_go(context, values=base_dir)
        return _SaysWhatIsMissing(base_dir=base_dir)


def say_where_runs_go(context: dg.InitResourceContext, values: str) -> None:
    """At a run's start: the Dagster instance and where asset values go, and a warning where the
    instance would leave the run's console without its settings."""
    if context.run is None or context.log is None or context.instance is None:
        return
    context.log.info(f"Using {describe_instance(context.instance)}; asset values in {values}")
    if missing := missing_console_settings(context.instance):
        context.log.warning(missing)


class _SaysWhatIsMissing(PickledObjectFilesystemIOManager):
    def load_input(self, context: dg.InputContext) -> Any:
        try:
            return super().load_input(context)
        except FileNotFoundError:
            raise missing_input(context, where=str(self._get_path(context))) from None


def missing_input(context: dg.InputContext, where: str) -> dg.Failure:
    """The failure of a step whose input no earlier run stored: not retried, with the fix."""
    upstream = context.asset_key.to_user_string() if context.has_asset_key else context.name
    selected = sorted(key.to_user_string() for key in _selected_assets(context)) or [
        context.op_def.name
    ]
    return dg.Failure(
        f"{upstream} has no stored value ({where}): no run with this instance materialized it. "
        f"Materialize upstream first: --select '*{selected[0]}'",
        allow_retries=False,
    )


def _selected_assets(context: dg.InputContext) -> set[dg.AssetKey]:
    """The assets the step makes in this run, to name in the advice. (`step_context` is not in
    Dagster's documented API; test_private_apis watches it.)"""
    step = context.step_context
    return {
        key
        for key in step.job_def.asset_layer.get_selected_entity_keys_for_node(step.node_handle)
        if isinstance(key, dg.AssetKey)
    }
