"""The server's HTTP routes over a holder, as a client sees them: MLflow's scoring protocol, JSON
errors without stack traces, and the version of every answer in X-Model-Version."""

import asyncio
import threading
from dataclasses import replace
from typing import Any

import httpx
import pytest

from iris_assets.iris_table import FEATURES
from iris_assets.serving.app import VERSION_HEADER, build_app
from iris_assets.serving.state import FailedLoad, Holder, Loaded

SETOSA = [5.1, 3.5, 1.4, 0.2]
README_BODY = {"dataframe_split": {"columns": list(FEATURES), "data": [SETOSA]}}


class _Client:
    """Requests straight into the app, in this process: no server, no port."""

    def __init__(self, holder: Holder) -> None:
        self._app = build_app(holder, timeout=60)

    async def ask(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self._app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
            return await client.request(method, path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return asyncio.run(self.ask(method, path, **kwargs))

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def _serving(loaded: Loaded) -> Holder:
    holder = Holder("sk_model", "champion", waiting="looking up the alias")
    holder.serve(loaded)
    return holder


def test_before_a_version_serves_the_process_is_up_but_not_ready() -> None:
    """/health is 200 (the process is up: Compose and Kubernetes keep it); /ping and
    /invocations are 503 and say why, in JSON."""
    reason = "no version of 'sk_model' in the store holds the alias 'champion' yet"
    client = _Client(Holder("sk_model", "champion", waiting=reason))
    health = client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "up"})
    for answer in (client.get("/ping"), client.post("/invocations", json=README_BODY)):
        assert answer.status_code == 503
        assert answer.json() == {
            "error_code": "TEMPORARILY_UNAVAILABLE",
            "message": f"Not serving models:/sk_model@champion yet: {reason}",
        }
        assert VERSION_HEADER not in answer.headers


@pytest.mark.parametrize(
    "body",
    [
        README_BODY,
        {"dataframe_records": [dict(zip(FEATURES, SETOSA, strict=True))]},
        {"inputs": {name: [value] for name, value in zip(FEATURES, SETOSA, strict=True)}},
    ],
    ids=["dataframe_split", "dataframe_records", "inputs"],
)
def test_each_input_format_of_mlflow_answers_with_the_version(
    loaded: Loaded, body: dict[str, Any]
) -> None:
    answer = _Client(_serving(loaded)).post("/invocations", json=body)
    assert (answer.status_code, answer.json()) == (200, {"predictions": [0]})
    assert answer.headers[VERSION_HEADER] == "7"


def test_zero_rows_answer_400_in_json_without_a_stack_trace(loaded: Loaded) -> None:
    """MLflow's own answer carries a Python stack trace; this one says the cause in one line."""
    empty = {"dataframe_split": {"columns": list(FEATURES), "data": []}}
    answer = _Client(_serving(loaded)).post("/invocations", json=empty)
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers[VERSION_HEADER] == "7"
    body = answer.json()
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == "BAD_REQUEST"
    assert "Found array with 0 sample(s)" in body["message"]
    assert "Traceback" not in answer.text


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("POST", "/invocations", {"content": "x", "headers": {"Content-Type": "text/xml"}}, 415),
        (
            "POST",
            "/invocations",
            {"content": "{", "headers": {"Content-Type": "application/json"}},
            400,
        ),
        ("GET", "/invocations", {}, 405),
        ("GET", "/nowhere", {}, 404),
    ],
    ids=["content type", "not JSON", "method", "path"],
)
def test_every_error_is_json_with_the_version(
    loaded: Loaded, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    answer = _Client(_serving(loaded)).request(method, path, **kwargs)
    assert answer.status_code == status
    assert set(answer.json()) == {"error_code", "message"}
    assert answer.headers[VERSION_HEADER] == "7"


def test_version_names_what_serves_and_the_last_failed_load(loaded: Loaded) -> None:
    holder = _serving(replace(loaded, run_id="abc123"))
    holder.failed(FailedLoad("8", "it does not load: model.skops is gone"))
    body = _Client(holder).get("/version").json()
    assert body["name"] == "sk_model" and body["alias"] == "champion"
    assert (body["version"], body["run_id"]) == ("7", "abc123")
    assert body["loaded_at"] == loaded.loaded_at.isoformat()
    assert body["last_failed_load"]["version"] == "8"
    assert body["last_failed_load"]["error"] == "it does not load: model.skops is gone"


class _Held:
    """A model that waits, inside predict, until released: a request caught mid-flight."""

    def __init__(self, loaded: Loaded) -> None:
        self._model = loaded.model
        self.metadata = loaded.model.metadata
        self.entered = threading.Event()
        self.release = threading.Event()

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        self.entered.set()
        self.release.wait(30)
        return self._model.predict(data)


def test_a_request_that_began_before_a_swap_ends_on_its_version(loaded: Loaded) -> None:
    """The swap is one reference: the next request goes to the new version, the request in
    flight finishes on the old one and says so."""
    held = _Held(loaded)
    holder = _serving(replace(loaded, model=held))
    client = _Client(holder)

    async def swap_during_a_request() -> tuple[httpx.Response, httpx.Response]:
        before = asyncio.create_task(client.ask("POST", "/invocations", json=README_BODY))
        assert await asyncio.to_thread(held.entered.wait, 30)
        holder.serve(replace(loaded, version="8"))
        after = await client.ask("POST", "/invocations", json=README_BODY)
        held.release.set()
        return await before, after

    before, after = asyncio.run(swap_during_a_request())
    assert (after.status_code, after.headers[VERSION_HEADER]) == (200, "8")
    assert (before.status_code, before.headers[VERSION_HEADER]) == (200, "7")
    assert before.json() == {"predictions": [0]}
