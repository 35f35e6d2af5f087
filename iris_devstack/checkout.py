"""The checkout the dev stack works in: the repository root, where the README's commands run."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
