"""A run's console: each failure as its message in one line; the stack traces stay in the event log.

Dagster writes a failure's stack traces (and those of its causes) into the console line of every
event that carries an error, and says for each step after a failed one that it does not run: a
PostgreSQL that does not answer took 107 lines, the message a person needs buried among them.
Dagster's console logger is no instance setting beyond its level, and a `console` logger of the
code location's own serves only runs whose config names it. What every run passes its records
through, on every instance whose dagster.yaml lists them, is the handlers of `python_logs`:
Dagster hands each record to them after the event log has stored it and before its console
loggers print it (dagster/_core/log_manager.py, `DagsterLogHandler.emit`). `ConsoleMessages` is
such a handler. It shortens the record's message to the failure's own message, and makes the
"Not executing" lines DEBUG, for the console only; the event log and the UI keep everything.
`console_logger`, the code location's `console` logger, prints the record as Dagster made it
when run config sets it to DEBUG: `{"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}`.
"""

import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import dagster as dg
from dagster import DagsterEventType

from iris_assets.run_summary import error_summary, with_attempts

_METADATA_ATTR = "dagster_meta"  # where Dagster puts a record's run id, step and event
FULL_MESSAGE_ATTR = "iris_full_message"
"""The record's message as Dagster made it, stack traces and all, for the DEBUG console."""
FULL_LEVEL_ATTR = "iris_full_level"
"""The record's level before `ConsoleMessages` lowered it, for the DEBUG console."""
EVENT_LOG_NOTE = "(stack trace in the run's event log)"
"""Where a shortened failure's stack trace went, said on its line."""
_NOT_EXECUTING = re.compile(r"^Dependencies for step \S+ .*\. Not executing\.$", re.S)
"""Dagster's line for each step after a failed one (dagster/_core/execution/plan/active.py)."""


class ConsoleMessages(logging.Handler):
    """Shortens each record that carries an error to its message, with the attempts a step made,
    and lowers Dagster's "Not executing" lines to DEBUG, before the console prints the record."""

    # Dagster makes a handler for each log manager of a run (the run's, each step's): what one
    # counts, another reads, so the state is the class's, by run id.
    _restarts: ClassVar[dict[tuple[str, str], int]] = {}
    _said: ClassVar[dict[str, set[str]]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, _METADATA_ATTR, None)
        if not isinstance(meta, Mapping) or hasattr(record, FULL_MESSAGE_ATTR):
            return
        event = meta.get("dagster_event")
        if event is None:
            if _NOT_EXECUTING.match(str(meta.get("orig_message", ""))):
                _lower(record, logging.DEBUG)
            return
        run_id = meta.get("run_id") or ""
        kind = event.event_type
        if kind == DagsterEventType.STEP_RESTARTED:
            step = (run_id, event.step_key or "")
            self._restarts[step] = self._restarts.get(step, 0) + 1
        error = getattr(event.event_specific_data, "error", None)
        if error is not None and isinstance(record.msg, str):
            summary = error_summary(error)
            if kind == DagsterEventType.STEP_FAILURE:
                attempts = self._restarts.pop((run_id, event.step_key or ""), 0) + 1
                summary = with_attempts(summary, attempts)
            said = self._said.setdefault(run_id, set())
            # A run that failed because a step did says so ("Steps failed: ['iris_df']"), and
            # the step's line said why; an error said on an earlier line is not said again.
            repeated = kind == DagsterEventType.RUN_FAILURE and (
                _failed_by_a_step(event) or error_summary(error) in said
            )
            said.add(error_summary(error))
            setattr(record, FULL_MESSAGE_ATTR, record.msg)
            record.msg = short_message(record.msg, event, error, None if repeated else summary)
            record.args = ()
        if kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            self._said.pop(run_id, None)
            for step in [step for step in self._restarts if step[0] == run_id]:
                del self._restarts[step]


def short_message(message: str, event: Any, error: Any, summary: str | None) -> str:
    """`message` without the error text Dagster appended to it; `summary`, the error in one line,
    in its place (None: said on an earlier line)."""
    data = event.event_specific_data
    appended = f"\n\n{getattr(data, 'error_display_string', None) or error.to_string()}"
    head = message.removesuffix(appended) if message.endswith(appended) else message
    head = head.split("\n\n", 1)[0].rstrip()
    return head if summary is None else f"{head} {summary} {EVENT_LOG_NOTE}"


def _failed_by_a_step(event: Any) -> bool:
    reason = getattr(event.event_specific_data, "failure_reason", None)
    return getattr(reason, "value", None) == "STEP_FAILURE"


def _lower(record: logging.LogRecord, level: int) -> None:
    """Make the record `level` for the console, keeping its own level for the DEBUG console."""
    setattr(record, FULL_LEVEL_ATTR, record.levelno)
    record.levelno, record.levelname = level, logging.getLevelName(level)


class _WholeRecords(logging.Filter):
    """Gives a record back the message and level Dagster made, for a console set to DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        full = getattr(record, FULL_MESSAGE_ATTR, None)
        if isinstance(full, str):
            record.msg, record.args = full, ()
        level = getattr(record, FULL_LEVEL_ATTR, None)
        if isinstance(level, int):
            record.levelno, record.levelname = level, logging.getLevelName(level)
        return True


@dg.logger(
    dg.colored_console_logger.config_schema,
    description="Dagster's colored console; set to DEBUG, it prints every failure's stack traces "
    "and the steps that did not run, which at INFO stay in the run's event log.",
)
def console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    """Dagster's own console logger, which at DEBUG prints each record as Dagster made it."""
    logger = dg.colored_console_logger.logger_fn(init_context)
    if logger.isEnabledFor(logging.DEBUG):
        for handler in logger.handlers:
            handler.addFilter(_WholeRecords())
    return logger
