"""The closing line of a run, built from what it materialized or how it failed."""

import dagster as dg
import pytest
from dagster._utils.error import SerializableErrorInfo

from iris_assets.run_summary import (
    RunSummaryHandler,
    error_summary,
    failure_summary,
    success_summary,
    with_attempts,
)

REGISTERED = {
    "model_name": "sk_model",
    "model_version": 3,
    "model_uri": "models:/sk_model/3",
    "valid_acc": 0.95,
    "model_version_url": "http://localhost:5000/#/models/sk_model/versions/3",
    "mlflow_ui_command": "uv run iris-assets mlflow-ui",
}
CHAMPION = {
    "model_name": "sk_model",
    "champion_alias": "champion",
    "promoted": True,
    "previous_champion_version": 2,
}


def test_a_registration_says_version_uri_champion_and_where_to_look() -> None:
    """The line names the version, its URI and score, the alias's move and the UI to open."""
    line = success_summary(
        {"metrics": {"valid_acc": 0.95}, "registered_model": REGISTERED, "champion_model": CHAMPION}
    )
    assert line == (
        "Run succeeded: sk_model version 3 registered as models:/sk_model/3 (valid_acc 0.950); "
        "champion moved to it from version 2. See it at "
        "http://localhost:5000/#/models/sk_model/versions/3 once "
        "`uv run iris-assets mlflow-ui` serves the MLflow UI."
    )


def test_a_champion_that_stays_is_named_with_its_score() -> None:
    """When the alias does not move, the line says which version keeps it and why."""
    stays = {**CHAMPION, "promoted": False, "previous_champion_valid_acc": 1.0}
    on_a_server = {**REGISTERED, "mlflow_ui_command": None}
    line = success_summary({"registered_model": on_a_server, "champion_model": stays})
    assert "champion stays on version 2 (valid_acc 1.000)." in line
    assert line.endswith("See it at http://localhost:5000/#/models/sk_model/versions/3.")


def test_the_first_champion_is_said_so() -> None:
    """The first version to take the alias is not said to have moved it from anywhere."""
    first = {**CHAMPION, "previous_champion_version": None, "promoted": True}
    line = success_summary({"registered_model": REGISTERED, "champion_model": first})
    assert "; champion points at it." in line


def test_other_assets_metadata_of_the_same_name_is_not_taken_for_the_registration() -> None:
    """iris_predictions' model_version (the champion that scored the rows) is not the version
    registered, and a run that only scored rows registered nothing."""
    scored = {"rows_scored": 3, "model_version": 2, "champion_valid_acc": 1.0}
    stays = {**CHAMPION, "promoted": False}
    line = success_summary(
        {"registered_model": REGISTERED, "champion_model": stays, "iris_predictions": scored}
    )
    assert line.startswith("Run succeeded: sk_model version 3 registered as models:/sk_model/3")
    assert success_summary({"iris_predictions": scored}) == (
        "Run succeeded: materialized iris_predictions; no model registered."
    )


def test_a_registration_without_champion_model_says_nothing_of_the_alias() -> None:
    """A run that stops at registered_model did not decide about the alias."""
    line = success_summary({"registered_model": REGISTERED})
    assert "champion" not in line
    assert line.startswith("Run succeeded: sk_model version 3 registered as models:/sk_model/3 ")


def test_a_run_without_registration_lists_what_it_made() -> None:
    """A partial run names its assets and scores, and that nothing was registered."""
    line = success_summary({"iris_df": {}, "metrics": {"train_acc": 0.975, "valid_acc": 0.95}})
    assert line == (
        "Run succeeded: materialized iris_df, metrics (train_acc 0.975, valid_acc 0.950); "
        "no model registered."
    )


def test_a_failure_names_the_step_and_the_message_without_classes_or_traces() -> None:
    """A Failure's description comes as it is; other errors with their class and root cause."""
    failure = SerializableErrorInfo(
        "dagster._core.definitions.events.Failure: fitted_pipeline has no stored value.\n",
        stack=["File x, line 1"],
        cls_name="Failure",
    )
    wrapped = SerializableErrorInfo(
        "dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while "
        "executing op registered_model:\n",
        stack=[],
        cls_name="DagsterExecutionStepExecutionError",
        cause=SerializableErrorInfo(
            "requests.exceptions.ConnectionError: refused\n", stack=[], cls_name="ConnectionError"
        ),
    )
    assert error_summary(failure) == "fitted_pipeline has no stored value."
    assert error_summary(wrapped) == (
        "DagsterExecutionStepExecutionError: Error occurred while executing op registered_model: "
        "Caused by ConnectionError: refused"
    )
    assert failure_summary(("registered_model", "it broke")) == (
        "Run failed at registered_model: it broke"
    )
    assert failure_summary(None).startswith("Run failed before any step did")


def test_a_step_that_ran_out_of_retries_is_named_by_its_own_error_and_attempts() -> None:
    """Dagster's "Exceeded max_retries of 2" wrapper gives way to the step's own message; a
    Failure under Dagster's wrappers is the project's words alone."""
    failure = SerializableErrorInfo(
        "dagster._core.definitions.events.Failure: Cannot connect to PostgreSQL at x (check y).\n",
        stack=["File x, line 1"],
        cls_name="Failure",
    )
    retried = SerializableErrorInfo(
        "Exceeded max_retries of 2\n", stack=[], cls_name="RetryRequestedFromPolicy", cause=failure
    )
    resource = SerializableErrorInfo(
        "dagster._core.errors.DagsterResourceFunctionError: Error executing resource_fn on "
        "ResourceDefinition io_manager\n",
        stack=[],
        cls_name="DagsterResourceFunctionError",
        cause=failure,
    )
    assert error_summary(retried) == "Cannot connect to PostgreSQL at x (check y)."
    assert error_summary(resource) == "Cannot connect to PostgreSQL at x (check y)."
    assert with_attempts("It broke.", 3) == "It broke. Gave up after 3 attempts."
    assert with_attempts("it broke", 2) == "it broke. Gave up after 2 attempts."
    assert with_attempts("it broke", 1) == "it broke"
    assert failure_summary((None, "no bucket")) == "Run failed before any step ran: no bucket"


_HANDLER = {"dagster_handler_config": {"handlers": {"summary": {"class": f"{__name__}.Handler"}}}}


class Handler(RunSummaryHandler):
    """The handler dagster.yaml attaches, under a name this module can hand to a test instance."""


@dg.asset(name="registered_model")
def _registered() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={**REGISTERED, "mlflow_ui_command": None})


@dg.asset_check(asset="registered_model", blocking=False)
def _warns() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False, severity=dg.AssetCheckSeverity.WARN, description="live accuracy fell"
    )


@dg.asset(name="iris_df")
def _fails() -> None:
    raise dg.Failure("Table iris_data does not exist")


@pytest.mark.filterwarnings("ignore:Handling yaml-defined logging configuration")
def test_the_handler_ends_each_run_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Fed a run's events by Dagster, the handler prints one line per run, warnings after it."""
    with dg.instance_for_test(overrides={"python_logs": _HANDLER}) as instance:
        dg.materialize([_registered, _warns], instance=instance)
        dg.materialize([_fails], instance=instance, raise_on_error=False)
    capsys.readouterr()
    Handler._print_ended()
    assert capsys.readouterr().err == (
        "\nRun succeeded: sk_model version 3 registered as models:/sk_model/3 (valid_acc 0.950). "
        "See it at http://localhost:5000/#/models/sk_model/versions/3.\n"
        "Warning from check _warns: live accuracy fell\n"
        "\nRun failed at iris_df: Table iris_data does not exist\n"
    )
