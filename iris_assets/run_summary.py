"""The line every run ends with: what it registered and where to look, or where it failed and why.

The instance configs (the root dagster.yaml, deploy/dagster_home/dagster.yaml, the Helm values)
attach `RunSummaryHandler` to Dagster's log handlers. Dagster hands it every event of a run,
DEBUG ones included, whatever the console's level. The line goes to stderr as the process exits:
Dagster hands the run's last event to this handler before its console prints it, and the CLI
prints "Error: Materialization failed." after that. A failed step is named by its own error, not
by Dagster's "Exceeded max_retries" around it, with the attempts it made.
"""

import atexit
import logging
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from dagster import DagsterEventType

from iris_assets import metadata_keys as keys

_METADATA_ATTR = "dagster_meta"  # where Dagster puts a record's run id and event
_METRICS, _REGISTERED_MODEL, _CHAMPION_MODEL = "metrics", "registered_model", "champion_model"
"""The assets whose metadata the closing line is made of: keys fixed by test_definitions."""


class RunSummaryHandler(logging.Handler):
    """Collects what each run materialized, which checks warned and what failed; says it in one
    line at its end, with a line for each warning after it."""

    # Dagster makes a handler for each log manager of a run (the run's, the steps'): what one
    # collects, another reports, so the state is the class's, by run id.
    _materialized: ClassVar[dict[str, dict[str, Mapping[str, Any]]]] = {}
    _failures: ClassVar[dict[str, tuple[str | None, str]]] = {}
    _restarts: ClassVar[dict[tuple[str, str], int]] = {}
    _warnings: ClassVar[dict[str, list[str]]] = {}
    _ended: ClassVar[list[str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, _METADATA_ATTR, None)
        event = meta.get("dagster_event") if isinstance(meta, Mapping) else None
        if event is None:
            return
        run_id = meta.get("run_id") or ""
        kind = event.event_type
        if kind == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key is not None:
            metadata = event.event_specific_data.materialization.metadata
            self._materialized.setdefault(run_id, {})[event.asset_key.to_user_string()] = {
                name: value.value for name, value in metadata.items()
            }
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                self._warnings.setdefault(run_id, []).append(
                    f"{evaluation.check_name}: {evaluation.description or 'failed'}"
                )
        elif kind == DagsterEventType.STEP_RESTARTED:
            step = (run_id, event.step_key or "")
            self._restarts[step] = self._restarts.get(step, 0) + 1
        elif kind == DagsterEventType.STEP_FAILURE:
            error = getattr(event.event_specific_data, "error", None)
            message = error_summary(error) if error is not None else "no error was recorded"
            attempts = self._restarts.pop((run_id, event.step_key or ""), 0) + 1
            self._failures[run_id] = (event.step_key or "a step", with_attempts(message, attempts))
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            materialized = self._materialized.pop(run_id, {})
            failure = self._failures.pop(run_id, None)
            warned = self._warnings.pop(run_id, [])
            for step in [step for step in self._restarts if step[0] == run_id]:
                del self._restarts[step]
            if failure is None and kind == DagsterEventType.RUN_FAILURE:
                failure = _run_failure(event)
            if not self._ended:
                atexit.register(self._print_ended)
            line = (
                success_summary(materialized)
                if kind == DagsterEventType.RUN_SUCCESS
                else failure_summary(failure)
            )
            self._ended.append(line + "".join(f"\nWarning from check {w}" for w in warned))

    @classmethod
    def _print_ended(cls) -> None:
        for line in cls._ended:
            print(f"\n{line}", file=sys.stderr, flush=True)
        cls._ended.clear()


def success_summary(materialized: Mapping[str, Mapping[str, Any]]) -> str:
    """The closing line of a successful run, from the metadata of what it materialized.

    Each fact is read from the asset that writes it: other assets may use the same names for
    their own values (iris_predictions' model_version is the version that scored its rows).
    """
    registered = materialized.get(_REGISTERED_MODEL)
    if registered is None:
        metrics = materialized.get(_METRICS, {})
        scores = ", ".join(
            f"{name} {metrics[name]:.3f}"
            for name in (keys.TRAIN_ACC, keys.VALID_ACC)
            if isinstance(metrics.get(name), float)
        )
        done = ", ".join(materialized) or "nothing"
        return (
            f"Run succeeded: materialized {done}"
            + (f" ({scores})" if scores else "")
            + "; no model registered."
        )
    name, version = registered[keys.MODEL_NAME], registered[keys.MODEL_VERSION]
    line = f"Run succeeded: {name} version {version} registered as {registered[keys.MODEL_URI]}"
    if isinstance(registered.get(keys.VALID_ACC), float):
        line += f" (valid_acc {registered[keys.VALID_ACC]:.3f})"
    if (champion := materialized.get(_CHAMPION_MODEL)) is not None:
        line += f"; {_champion(champion)}"
    line += "."
    if url := registered.get(keys.MODEL_VERSION_URL):
        line += f" See it at {url}"
        if command := registered.get(keys.MLFLOW_UI_COMMAND):
            line += f" once `{command}` serves the MLflow UI"
        line += "."
    return line


def _champion(champion: Mapping[str, Any]) -> str:
    alias = champion.get(keys.CHAMPION_ALIAS, "champion")
    previous = champion.get(keys.PREVIOUS_CHAMPION_VERSION)
    if not champion.get(keys.PROMOTED):
        score = champion.get(keys.PREVIOUS_CHAMPION_VALID_ACC)
        against = f" (valid_acc {score:.3f})" if isinstance(score, float) else ""
        return f"{alias} stays on version {previous}{against}"
    if previous is None:
        return f"{alias} points at it"
    return f"{alias} moved to it from version {previous}"


def failure_summary(failure: tuple[str | None, str] | None) -> str:
    """The closing line of a failed run: the step and its error's message, once more; for a run
    that failed before any step ran (a resource that could not start), that error's message."""
    if failure is None:
        return "Run failed before any step did; the run's event log in the Dagster UI says why."
    step, message = failure
    if step is None:
        return f"Run failed before any step ran: {message}"
    return f"Run failed at {step}: {message}"


def _run_failure(event: Any) -> tuple[str | None, str] | None:
    """What failed a run that no step failure explains: the error Dagster gave the run's
    failure, or None if it gave none."""
    error = getattr(event.event_specific_data, "error", None)
    return None if error is None else (None, error_summary(error))


def with_attempts(message: str, attempts: int) -> str:
    """`message`, and how often the step ran where its retry policy ran it more than once."""
    if attempts < 2:
        return message
    end = "" if message.rstrip().endswith((".", "!", "?")) else "."
    return f"{message.rstrip()}{end} Gave up after {attempts} attempts."


_RETRY_WRAPPERS = ("RetryRequestedFromPolicy",)
"""Errors Dagster raises around a step's own when its retries ran out ("Exceeded max_retries of
2"): the step's error is the message, the attempts are said apart."""


def error_summary(error: Any) -> str:
    """An error's message in one line, with its root cause's where Dagster wrapped it; where the
    root cause is a `dagster.Failure`, the project's own words, that one's alone."""
    if error.cls_name in _RETRY_WRAPPERS and error.cause is not None:
        return error_summary(error.cause)
    message = _message(error)
    cause = error.cause
    while cause is not None and cause.cause is not None:
        cause = cause.cause
    if cause is not None and cause.cls_name == "Failure":
        return _message(cause)
    if cause is not None and _message(cause) not in message:
        message = f"{message} Caused by {_message(cause)}"
    return message


def _message(error: Any) -> str:
    """The first line of a serialized error, its class named without its module; a
    `dagster.Failure`, which the project raises with the fix in it, by its description alone."""
    text = next((line.strip() for line in error.message.splitlines() if line.strip()), "")
    prefix, separator, rest = text.partition(": ")
    if separator and prefix.rpartition(".")[2] == error.cls_name:
        return rest if error.cls_name == "Failure" else f"{error.cls_name}: {rest}"
    return text
