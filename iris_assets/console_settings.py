"""The instance settings a run's console needs: INFO and up, each failure in one line
(iris_assets.console) and the line every run ends with (iris_assets.run_summary).

Named here as text, without importing the handlers (that imports Dagster), so that `doctor` can
check a dagster.yaml it only reads and a run can check the instance it opened, by one rule.
test_doctor holds the names to the classes.
"""

from collections.abc import Mapping
from typing import Any

CONSOLE_HANDLER = "iris_assets.console.ConsoleMessages"
RUN_SUMMARY_HANDLER = "iris_assets.run_summary.RunSummaryHandler"

CONSOLE_SETTINGS = f"""python_logs:
  python_log_level: INFO
  dagster_handler_config:
    handlers:
      console_messages:
        class: {CONSOLE_HANDLER}
      run_summary:
        class: {RUN_SUMMARY_HANDLER}
telemetry:
  enabled: false"""
"""The lines the project's instance configs hold; README "Your own Dagster instance" gives them
too."""


def has_console_settings(python_logs: Mapping[str, Any] | None) -> bool:
    """Whether an instance's `python_logs` settings set the console's level and attach both
    handlers."""
    if not isinstance(python_logs, Mapping) or not python_logs.get("python_log_level"):
        return False
    handlers = (python_logs.get("dagster_handler_config") or {}).get("handlers") or {}
    attached = {handler.get("class") for handler in handlers.values() if isinstance(handler, dict)}
    return attached >= {CONSOLE_HANDLER, RUN_SUMMARY_HANDLER}
