"""Config classes: the tutorial's defaults and what they refuse."""

from collections.abc import Mapping

import dagster as dg
import pytest
from mlflow.tracking import MlflowClient

from iris_assets.config import (
    ChampionConfig,
    IrisDataConfig,
    RegistryConfig,
    SplitConfig,
    SVCConfig,
)
from iris_assets_tests._graph import failure_text, run_graph


def test_defaults_are_the_tutorials() -> None:
    """Unconfigured, the graph trains exactly as the tutorial chapter does."""
    assert IrisDataConfig().limit == 100
    assert (SplitConfig().train_size, SplitConfig().random_state) == (0.8, 2022)
    assert (RegistryConfig().experiment, RegistryConfig().model_name) == ("new-exp", "sk_model")
    assert SVCConfig().svc_params() == {
        "C": 1.0,
        "kernel": "rbf",
        "degree": 3,
        "gamma": "scale",
        "coef0": 0.0,
    }


def test_svc_defaults_match_scikit_learn() -> None:
    """The SVC defaults are scikit-learn's own."""
    from sklearn.svm import SVC

    defaults = SVC().get_params()
    assert {name: defaults[name] for name in SVCConfig().svc_params()} == SVCConfig().svc_params()


@pytest.mark.parametrize(("gamma", "expected"), [("auto", "auto"), ("0.25", 0.25)])
def test_gamma_accepts_keywords_and_numbers(gamma: str, expected: object) -> None:
    """`gamma` passes 'scale'/'auto' through and parses a number."""
    assert SVCConfig(gamma=gamma).svc_params()["gamma"] == expected


def test_gamma_rejects_other_words() -> None:
    """A misspelt gamma is named in the error."""
    with pytest.raises(ValueError, match="gamma must be 'scale', 'auto' or a positive number"):
        SVCConfig(gamma="scal").svc_params()


@pytest.mark.parametrize(
    ("config_class", "values"),
    [
        (SplitConfig, {"train_size": 1.0}),
        (SplitConfig, {"train_size": 0}),
        (IrisDataConfig, {"limit": 0}),
        (SVCConfig, {"C": 0}),
        (ChampionConfig, {"alias": "latest"}),
        (ChampionConfig, {"alias": "v3"}),
        (RegistryConfig, {"model_name": "team/sk_model"}),
    ],
)
def test_out_of_range_values_are_refused(config_class: type[dg.Config], values: dict) -> None:
    """Values the split or the SVC cannot use are refused when the config is built, as a failure
    no retry can mend, naming the field and the value."""
    with pytest.raises(dg.Failure) as refused:
        config_class(**values)
    assert not refused.value.allow_retries
    field, value = next(iter(values.items()))
    assert f"{field}: " in str(refused.value) and f"(got {value!r})" in str(refused.value)


def test_unknown_kernel_is_refused_before_the_run() -> None:
    """Dagster's config validation rejects a kernel SVC does not have."""

    @dg.asset
    def uses_svc_config(config: SVCConfig) -> None:
        """Stands in for fitted_pipeline."""

    with pytest.raises(dg.DagsterInvalidConfigError, match="kernel"):
        dg.materialize(
            [uses_svc_config],
            run_config={"ops": {"uses_svc_config": {"config": {"kernel": "cubic"}}}},
        )


# (op, config, the step that fails, words the failure must contain); every run is against the
# real services. champion_model's alias is refused by registered_model, before MLflow hears of it.
RUN_CASES = [
    ("iris_df", {"limit": 0}, "iris_df", "greater than or equal to 1"),
    ("iris_split", {"train_size": 1.5}, "iris_split", "less than 1"),
    ("iris_split", {"train_size": 0.01}, "iris_split", "1 to train and 99 to score"),
    ("registered_model", {"model_name": "team/sk_model"}, "registered_model", "model_name"),
    ("registered_model", {"experiment": ""}, "registered_model", "experiment"),
    ("champion_model", {"alias": "latest"}, "registered_model", "reserved by MLflow"),
]


@pytest.mark.parametrize(
    ("op", "config", "failing", "words"), RUN_CASES, ids=[f"{c[0]}-{c[1]}" for c in RUN_CASES]
)
def test_invalid_config_fails_its_step_and_registers_nothing(
    graph_resources: Mapping[str, object],
    mlflow_server: str,
    op: str,
    config: dict,
    failing: str,
    words: str,
) -> None:
    """A value MLflow or scikit-learn would reject fails at its step (an alias: before the
    registration), at once (not retried), before any MLflow write."""
    runs_before = _mlflow_run_count(mlflow_server)
    result = run_graph(
        graph_resources,
        dg.DagsterInstance.ephemeral(),
        ops={op: config},
    )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == failing
    assert words in failure_text(result)
    assert _mlflow_run_count(mlflow_server) == runs_before
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert not restarts, "a config error fails the same way every time: no retry"


def _mlflow_run_count(tracking_uri: str) -> int:
    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    return len(client.search_runs(experiments, max_results=10_000)) if experiments else 0
