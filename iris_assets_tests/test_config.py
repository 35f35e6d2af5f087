"""Config classes: the tutorial's defaults and what they refuse."""

import dagster as dg
import pytest
from pydantic import ValidationError

from iris_assets.config import IrisDataConfig, RegistryConfig, SplitConfig, SVCConfig


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
    ],
)
def test_out_of_range_values_are_refused(config_class: type[dg.Config], values: dict) -> None:
    """Values the split or the SVC cannot use are refused when the config is built."""
    with pytest.raises(ValidationError):
        config_class(**values)


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
