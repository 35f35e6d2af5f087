"""Talking to `iris-assets serve` as a client does, for the tests that start it."""

import http.client
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from iris_assets.iris_table import FEATURES

CLI = str(Path(sys.executable).with_name("iris-assets"))
SETOSA, VIRGINICA = [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]
VERSION_HEADER = "X-Model-Version"


def body(rows: list[list[float]]) -> bytes:
    """Rows in MLflow's dataframe_split format, as the README's curl sends them."""
    return json.dumps({"dataframe_split": {"columns": list(FEATURES), "data": rows}}).encode()


def predict(url: str, rows: list[list[float]]) -> list[int]:
    """POST /invocations with rows, as the README's curl does."""
    request = urllib.request.Request(
        f"{url}/invocations", data=body(rows), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["predictions"]


@dataclass(frozen=True)
class Answer:
    status: int
    version: str | None
    body: Any


def ask(url: str, path: str, data: bytes | None = None) -> Answer:
    """GET `path`, or POST `data` as JSON: the status, X-Model-Version and JSON body, errors too."""
    request = urllib.request.Request(
        f"{url}{path}", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.headers[VERSION_HEADER], json.load(response))
    except urllib.error.HTTPError as error:
        with error:
            return Answer(error.code, error.headers[VERSION_HEADER], json.load(error))


def wait_for_line(log: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not in {log} after {timeout:.0f}s:\n{log.read_text()}")
        time.sleep(0.5)


@dataclass(frozen=True)
class Sent:
    """One request of a RequestLoop: its answer, or the error that took its place."""

    status: int | None
    version: str | None
    predictions: list[int] | None
    error: str | None = None


class RequestLoop:
    """A client sending one row (SETOSA) back to back over one keep-alive connection, on a
    thread of its own, until the block ends: at most `max_requests`, for at most `max_seconds`.
    A request without an answer is recorded as such and the client connects again."""

    def __init__(self, url: str, max_requests: int, max_seconds: float) -> None:
        parts = urlsplit(url)
        self._address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._max_requests, self._max_seconds = max_requests, max_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sent: list[Sent] = []

    def __enter__(self) -> "RequestLoop":
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(60)

    def failed(self) -> list[Sent]:
        return [s for s in self.sent if s.status != 200 or s.predictions != [0]]

    def versions(self) -> list[str | None]:
        """The X-Model-Version of the answers in order, each run of one version said once."""
        runs: list[str | None] = []
        for sent in self.sent:
            if not runs or runs[-1] != sent.version:
                runs.append(sent.version)
        return runs

    def wait_for_version(self, version: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.sent or self.sent[-1].version != version:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise TimeoutError(
                    f"no answer from version {version} within {timeout:.0f} s: {self.versions()}"
                )
            time.sleep(0.1)

    def _run(self) -> None:
        deadline = time.monotonic() + self._max_seconds
        connection = http.client.HTTPConnection(*self._address, timeout=30)
        data = body([SETOSA])
        headers = {"Content-Type": "application/json"}
        while (
            not self._stop.is_set()
            and len(self.sent) < self._max_requests
            and time.monotonic() < deadline
        ):
            try:
                connection.request("POST", "/invocations", data, headers)
                response = connection.getresponse()
                answer = json.loads(response.read())
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.sent.append(Sent(None, None, None, f"{type(error).__name__}: {error}"))
                connection.close()
                connection = http.client.HTTPConnection(*self._address, timeout=30)
                continue
            self.sent.append(
                Sent(response.status, response.headers[VERSION_HEADER], answer.get("predictions"))
            )
        connection.close()
