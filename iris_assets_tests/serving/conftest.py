"""Models saved as the graph logs them (signature, input example, skops), in local directories:
what the server loads, without a registry or any process."""

import warnings
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from iris_assets import iris_table
from iris_assets.assets.registry import model_requirements
from iris_assets.serving.proof import load_and_prove
from iris_assets.serving.state import Loaded


def save_model(path: Path, features: tuple[str, ...], example: bool = True) -> Path:
    """An SVC pipeline on `features` of the iris rows, saved as `registered_model` logs one."""
    rows = pd.DataFrame(
        list(iris_table.iris_rows()), columns=[*iris_table.FEATURES, iris_table.LABEL]
    )
    pipeline = Pipeline([("scaler", StandardScaler()), ("svc", SVC())])
    pipeline.fit(rows[list(features)], rows[iris_table.LABEL])
    head = rows[list(features)].iloc[:10]
    with warnings.catch_warnings():
        # As registry.py: predicted labels never miss, whatever MLflow hints about integers.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        mlflow.sklearn.save_model(
            pipeline,
            str(path),
            signature=infer_signature(head, pd.Series(pipeline.predict(head), name="target")),
            input_example=head if example else None,
            pip_requirements=model_requirements(),
        )
    return path


@pytest.fixture(scope="package")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model on the four features, as every version of sk_model."""
    return save_model(tmp_path_factory.mktemp("models") / "iris", iris_table.FEATURES)


@pytest.fixture(scope="package")
def loaded(model_dir: Path) -> Loaded:
    """That model loaded and proven, as version 7."""
    return load_and_prove(str(model_dir), "7", None)
