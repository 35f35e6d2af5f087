"""A version is proven before it may take a request: it loads, takes the inputs clients send
now, and answers its own input example through the request path."""

import shutil
from pathlib import Path

import pytest

from iris_assets import iris_table
from iris_assets.serving.proof import NotProven, load_and_prove
from iris_assets.serving.state import Loaded
from iris_assets_tests.serving.conftest import save_model


def test_a_model_that_answers_its_example_is_proven(loaded: Loaded) -> None:
    assert loaded.version == "7"
    assert loaded.input_schema.input_names() == list(iris_table.FEATURES)


def test_a_model_whose_file_is_gone_does_not_load(model_dir: Path, tmp_path: Path) -> None:
    """The reason names the model, not the temporary directory it was downloaded to, so the same
    failure reads the same at every look."""
    broken = shutil.copytree(model_dir, tmp_path / "broken")
    (broken / "model.skops").unlink()
    with pytest.raises(NotProven, match=r"^it does not load: ") as raised:
        load_and_prove(str(broken), "8", None)
    assert "iris-serving-" not in str(raised.value)
    assert f"{broken}/model.skops" in str(raised.value)


def test_a_model_with_other_inputs_than_the_serving_one_is_refused(
    loaded: Loaded, tmp_path: Path
) -> None:
    """Clients send what version 7 takes: a version without petal_width would fail them all."""
    other = save_model(tmp_path / "three", iris_table.FEATURES[:3])
    assert load_and_prove(str(other), "8", None).version == "8"  # nothing serves: it may
    with pytest.raises(NotProven, match="differ from those of version 7") as raised:
        load_and_prove(str(other), "8", loaded)
    assert "restart the server to serve it" in str(raised.value)


def test_a_model_without_an_input_example_is_refused(tmp_path: Path) -> None:
    """Nothing to prove it with: it never serves."""
    bare = save_model(tmp_path / "bare", iris_table.FEATURES, example=False)
    with pytest.raises(NotProven, match="logged without an input example"):
        load_and_prove(str(bare), "8", None)
