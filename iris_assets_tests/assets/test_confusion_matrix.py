"""The confusion matrix image: a valid SVG whose cells hold the counts."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from iris_assets.assets._confusion_matrix import confusion_matrix_svg

_SVG = "{http://www.w3.org/2000/svg}"


def test_each_cell_shows_its_count_and_the_largest_is_darkest() -> None:
    """Cell [true, predicted] carries its count; the fullest cell is the darkest."""
    counts = np.array([[10, 0, 0], [0, 8, 2], [0, 1, 9]])
    root = ET.fromstring(confusion_matrix_svg(counts, ["setosa", "versicolor", "virginica"]))
    cells = {
        (int(rect.get("data-true")), int(rect.get("data-predicted"))): rect.get("fill")
        for rect in root.iter(f"{_SVG}rect")
        if rect.get("class") == "cell"
    }
    assert len(cells) == 9
    texts = [text.text for text in root.iter(f"{_SVG}text")]
    assert {"setosa", "versicolor", "virginica", "valid split"} <= set(texts)
    assert sorted(int(t) for t in texts if t and t.isdigit()) == sorted(counts.ravel().tolist())
    assert min(cells.values()) == cells[(0, 0)]  # the darkest blue has the smallest hex value


def test_labels_are_escaped() -> None:
    """A label with markup characters cannot break the image."""
    svg = confusion_matrix_svg(np.zeros((2, 2), dtype=int), ["<a>", "b&c"], title="x<y")
    ET.fromstring(svg)
    assert "&lt;a&gt;" in svg and "b&amp;c" in svg


def test_counts_must_match_the_labels() -> None:
    """A matrix of the wrong shape is refused with both shapes."""
    with pytest.raises(ValueError, match=r"shape \(2, 2\), not \(3, 3\)"):
        confusion_matrix_svg(np.zeros((2, 2)), [0, 1, 2])
