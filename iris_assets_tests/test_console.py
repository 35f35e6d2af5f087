"""A run's console: each failure's message in one line, retries said, stack traces left to the
event log; the DEBUG console prints them all."""

import logging

import dagster as dg
import pytest
import yaml

from iris_assets import console_settings, local_instance
from iris_assets.assets._shared import transient_only
from iris_assets.console import ConsoleMessages, console_logger

_HANDLERS = {
    "python_log_level": "INFO",
    "dagster_handler_config": {"handlers": {"console_messages": {"class": f"{__name__}.Messages"}}},
}
_DEBUG = {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}


class Messages(ConsoleMessages):
    """The handler dagster.yaml attaches, under a name this module can hand to a test instance."""


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=2, delay=0.01, backoff=dg.Backoff.EXPONENTIAL))
@transient_only
def unreachable(context: dg.AssetExecutionContext) -> int:
    raise dg.Failure("Cannot connect to the service at db:5432 (check SERVICE_URL).")


@dg.asset
def downstream(unreachable: int) -> int:
    return unreachable


@dg.asset(deps=[downstream])
def further_down() -> None:
    pass


def _run(instance: dg.DagsterInstance, run_config: dict | None = None) -> str:
    """The failing graph run on `instance`, with the code location's console logger."""
    job = dg.Definitions(
        assets=[unreachable, downstream, further_down], loggers={"console": console_logger}
    ).get_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
    assert not result.success
    return result.run_id


@pytest.mark.filterwarnings("ignore:Handling yaml-defined logging configuration")
def test_the_console_carries_each_failures_message_and_no_stack_trace(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One line per failure with its message and attempts, a WARNING before each retry, no trace
    and no "Not executing"; the event log keeps the trace."""
    with dg.instance_for_test(overrides={"python_logs": _HANDLERS}) as instance:
        capsys.readouterr()
        run_id = _run(instance)
        console = capsys.readouterr().err
        stored = instance.all_logs(run_id)
    print(console)
    assert "Stack Trace" not in console and "Traceback" not in console
    assert 'File "' not in console
    assert "Not executing" not in console
    [failure] = [line for line in console.splitlines() if "STEP_FAILURE" in line]
    assert failure.endswith(
        'Execution of step "unreachable" failed. Cannot connect to the service at db:5432 (check '
        "SERVICE_URL). Gave up after 3 attempts. (stack trace in the run's event log)"
    )
    warnings = [line for line in console.splitlines() if " - WARNING - " in line]
    assert [line.partition(" - unreachable - ")[2] for line in warnings] == [
        "unreachable failed on attempt 1 of 3 and runs again in 0.01 s: Cannot connect to the "
        "service at db:5432 (check SERVICE_URL).",
        "unreachable failed on attempt 2 of 3 and runs again in 0.03 s: Cannot connect to the "
        "service at db:5432 (check SERVICE_URL).",
    ]
    [run_failure] = [line for line in console.splitlines() if "RUN_FAILURE" in line]
    assert run_failure.endswith("Steps failed: ['unreachable'].")
    [failed] = [e for e in stored if e.dagster_event_type == dg.DagsterEventType.STEP_FAILURE]
    assert failed.dagster_event is not None
    error = failed.dagster_event.event_specific_data.error
    assert "Stack Trace" in error.to_string() and error.cause.stack
    skipped = [e for e in stored if "Not executing" in e.user_message]
    assert len(skipped) == 2 and all(e.level == logging.ERROR for e in skipped)


@pytest.mark.filterwarnings("ignore:Handling yaml-defined logging configuration")
def test_the_debug_console_prints_what_dagster_made(capsys: pytest.CaptureFixture[str]) -> None:
    """Run config that sets the console to DEBUG brings back the traces and the skipped steps."""
    with dg.instance_for_test(overrides={"python_logs": _HANDLERS}) as instance:
        capsys.readouterr()
        _run(instance, _DEBUG)
        console = capsys.readouterr().err
    assert console.count("Stack Trace") >= 2
    skipped = [line for line in console.splitlines() if "Not executing" in line]
    assert len(skipped) == 2 and all(" - ERROR - " in line for line in skipped)
    assert " - DEBUG - " in console


def test_a_failure_no_retry_can_mend_says_nothing_of_retries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A final Failure is not announced as retried, whatever the policy."""

    @dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
    @transient_only
    def refused(context: dg.AssetExecutionContext) -> None:
        raise dg.Failure("the server refused the credentials", allow_retries=False)

    with dg.instance_for_test() as instance:
        result = dg.materialize([refused], instance=instance, raise_on_error=False)
        levels = [entry.level for entry in instance.all_logs(result.run_id)]
    assert not result.success
    assert logging.WARNING not in levels


@pytest.mark.filterwarnings("ignore:Handling yaml-defined logging configuration")
def test_an_instance_without_the_console_handler_is_told_the_lines() -> None:
    """An instance that ends runs with the closing line but lacks the console handler still
    prints whole stack traces: the run's start says so, with the lines to add."""
    summary_only = yaml.safe_load(console_settings.CONSOLE_SETTINGS)["python_logs"]
    del summary_only["dagster_handler_config"]["handlers"]["console_messages"]
    with dg.instance_for_test(overrides={"python_logs": summary_only}) as instance:
        missing = local_instance.missing_console_settings(instance)
    assert missing is not None and console_settings.CONSOLE_SETTINGS in missing
    full = yaml.safe_load(console_settings.CONSOLE_SETTINGS)["python_logs"]
    with dg.instance_for_test(overrides={"python_logs": full}) as instance:
        assert local_instance.missing_console_settings(instance) is None
