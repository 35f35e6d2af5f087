"""Run configuration of the assets; every default is the tutorial's."""

import re
from typing import Any, Literal

import dagster as dg
from pydantic import Field, ValidationError, field_validator

from iris_assets.model_names import DEFAULT_ALIAS, DEFAULT_MODEL_NAME


class StepConfig(dg.Config):
    """A step's run config whose invalid values fail the step once, not three times.

    Dagster builds the config inside the step, under its RetryPolicy: pydantic's ValidationError
    would be retried like a service's blip. A `dg.Failure` that allows no retry is not.
    """

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']} "
                f"(got {problem['input']!r})"
                for problem in error.errors()
            )
            raise dg.Failure(
                f"Invalid run config for {type(self).__name__}: {problems}", allow_retries=False
            ) from None


class IrisDataConfig(StepConfig):
    """Which rows of `iris_data` to train on."""

    limit: int = Field(default=100, ge=1, description="How many newest rows (by id) to read.")


class SplitConfig(StepConfig):
    """The seeded train/valid split."""

    train_size: float = Field(
        default=0.8, gt=0, lt=1, description="Share of the rows used for training."
    )
    random_state: int = Field(default=2022, description="Seed of the shuffle before the split.")


class SVCConfig(StepConfig):
    """Hyperparameters of the SVC; scikit-learn's defaults."""

    C: float = Field(default=1.0, gt=0, description="Inverse strength of the regularisation.")
    kernel: Literal["linear", "poly", "rbf", "sigmoid"] = "rbf"
    degree: int = Field(default=3, ge=0, description="Degree of the 'poly' kernel.")
    gamma: str = Field(
        default="scale", description="Kernel coefficient: 'scale', 'auto' or a positive number."
    )
    coef0: float = Field(default=0.0, description="Independent term of 'poly' and 'sigmoid'.")

    def svc_params(self) -> dict[str, float | int | str]:
        """The hyperparameters as `SVC` takes them, with a numeric `gamma` parsed."""
        gamma: float | str = self.gamma
        if self.gamma not in ("scale", "auto"):
            try:
                gamma = float(self.gamma)
            except ValueError:
                raise ValueError(
                    f"gamma must be 'scale', 'auto' or a positive number, not {self.gamma!r}"
                ) from None
        return {
            "C": self.C,
            "kernel": self.kernel,
            "degree": self.degree,
            "gamma": gamma,
            "coef0": self.coef0,
        }


class RegistryConfig(StepConfig):
    """Where in MLflow the model goes."""

    experiment: str = Field(
        default="new-exp",
        min_length=1,
        max_length=500,
        pattern=r"\S",
        description="MLflow experiment of the run.",
    )
    model_name: str = Field(
        default=DEFAULT_MODEL_NAME,
        min_length=1,
        max_length=256,
        pattern=r"^[^/:]*[^/:\s][^/:]*$",
        description="Registered model that receives a new version (no '/' or ':').",
    )


class ChampionConfig(StepConfig):
    """Which alias marks the version to serve."""

    alias: str = Field(
        default=DEFAULT_ALIAS,
        max_length=255,
        pattern=r"^[\w-]+$",
        description="Alias champion_model moves to the new version when it scores at least as "
        "well as the holder on the same valid rows (letters, digits, '_' and '-'; not 'latest' "
        "or 'v<number>'). registered_model checks it too, before anything is written to MLflow.",
    )

    @field_validator("alias")
    @classmethod
    def _not_reserved(cls, alias: str) -> str:
        """MLflow keeps 'latest' and 'v<number>' for itself."""
        if alias.lower() == "latest" or re.fullmatch(r"v\d+", alias):
            raise ValueError(f"alias {alias!r} is reserved by MLflow; choose another name")
        return alias


class PredictionsConfig(StepConfig):
    """Which rows the champion scores."""

    limit: int = Field(
        default=1000, ge=1, description="Most rows without a prediction to score, newest first."
    )


class DriftConfig(StepConfig):
    """When live accuracy counts as drift."""

    margin: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Warn when live accuracy falls more than this below the champion's valid_acc.",
    )


class DataQualityConfig(StepConfig):
    """What the rows must offer before anything is trained."""

    min_rows: int = Field(
        default=10, ge=2, description="Fewest rows iris_df must hold to train and score."
    )


class QualityGateConfig(StepConfig):
    """The floor a model must reach before it may be registered."""

    min_valid_acc: float = Field(
        default=0.7,
        ge=0,
        le=1,
        description="Lowest valid_acc that lets registered_model run.",
    )
