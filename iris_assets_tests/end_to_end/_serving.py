"""Talking to `iris-assets serve` as a client does, for the tests that start it."""

import json
import sys
import time
import urllib.request
from pathlib import Path

from iris_assets.iris_table import FEATURES

CLI = str(Path(sys.executable).with_name("iris-assets"))
SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]


def predict(url: str, rows: list[list[float]]) -> list[int]:
    """POST /invocations with rows in MLflow's dataframe_split format, as the README's curl does."""
    body = json.dumps({"dataframe_split": {"columns": list(FEATURES), "data": rows}}).encode()
    request = urllib.request.Request(
        f"{url}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["predictions"]


def wait_for_line(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not in {log} after {timeout:.0f}s:\n{log.read_text()}")
        time.sleep(0.5)
