"""The confusion matrix as a small SVG image, drawn without a plotting library.

A plotting library would cost every `registered_model` step its import time and memory to draw
nine squares and their counts (figures in docs/performance.md). The MLflow UI shows `.svg`
artifacts as images.
"""

from collections.abc import Sequence
from xml.sax.saxutils import escape

import numpy as np

_CELL = 64
_LEFT = 72  # room for the "true" axis and its class labels
_TOP = 48  # room for the title and the "predicted" axis
_BOTTOM = 40


def confusion_matrix_svg(
    counts: np.ndarray, labels: Sequence[object], title: str = "valid split"
) -> str:
    """`counts[true, predicted]` as a heat map: darker cells hold more rows."""
    size = len(labels)
    if counts.shape != (size, size):
        raise ValueError(f"counts has shape {counts.shape}, not ({size}, {size}) for {size} labels")
    width, height = _LEFT + size * _CELL + 8, _TOP + size * _CELL + _BOTTOM
    peak = max(int(counts.max(initial=0)), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="14">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{_LEFT + size * _CELL / 2}" y="18" text-anchor="middle" '
        f'font-weight="bold">{escape(title)}</text>',
        f'<text x="{_LEFT + size * _CELL / 2}" y="{height - 8}" text-anchor="middle">'
        "predicted label</text>",
        f'<text x="14" y="{_TOP + size * _CELL / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {_TOP + size * _CELL / 2})">true label</text>',
    ]
    for index, label in enumerate(labels):
        centre = index * _CELL + _CELL / 2
        text = escape(str(label))
        parts.append(
            f'<text x="{_LEFT + centre}" y="{_TOP + size * _CELL + 18}" '
            f'text-anchor="middle">{text}</text>'
        )
        parts.append(
            f'<text x="{_LEFT - 8}" y="{_TOP + centre + 5}" text-anchor="end">{text}</text>'
        )
    for true_index in range(size):
        for predicted_index in range(size):
            count = int(counts[true_index, predicted_index])
            shade = count / peak
            x, y = _LEFT + predicted_index * _CELL, _TOP + true_index * _CELL
            parts.append(
                f'<rect class="cell" data-true="{true_index}" data-predicted="{predicted_index}" '
                f'x="{x}" y="{y}" width="{_CELL}" height="{_CELL}" stroke="white" '
                f'fill="{_blue(shade)}"/>'
            )
            parts.append(
                f'<text x="{x + _CELL / 2}" y="{y + _CELL / 2 + 5}" text-anchor="middle" '
                f'fill="{"white" if shade > 0.5 else "black"}">{count}</text>'
            )
    parts.append("</svg>")
    return "\n".join(parts)


def _blue(shade: float) -> str:
    """Near white for 0, a deep blue for the largest count (matplotlib's "Blues" ends)."""
    red, green, blue = (
        round(start + (end - start) * shade)
        for start, end in zip((247, 251, 255), (8, 48, 107), strict=True)
    )
    return f"#{red:02x}{green:02x}{blue:02x}"
