"""The HTTP routes: MLflow's scoring protocol on the version that serves, and two of our own.

`POST /invocations` hands the body to `mlflow.pyfunc.scoring_server.invocations`, the function
MLflow's own scoring app calls (every content type and input format it parses, the signature it
enforces), on a worker thread as MLflow does, within MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT. The app
MLflow builds around it binds one model for its life; this one reads the serving version once per
request instead. Errors keep MLflow's JSON shape (`error_code`, `message`) without its
`stack_trace`: the cause's one line is in the message, the trace is nobody's business outside.
"""

import asyncio
import json
from typing import Any

from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from iris_assets.serving.state import Holder

VERSION_HEADER = "X-Model-Version"
_CODES = {404: "ENDPOINT_NOT_FOUND", 405: "BAD_REQUEST", 415: "BAD_REQUEST"}
"""MLflow error codes for the answers that come without one."""


def build_app(holder: Holder, timeout: float) -> Starlette:
    """The ASGI app over `holder`; a prediction longer than `timeout` seconds answers 504."""

    async def invocations(request: Request) -> Response:
        # Read once: this request is parsed, predicted and labelled by this version alone, even
        # if a swap happens while it runs.
        loaded = holder.state.current
        if loaded is None:
            return _not_serving(holder)
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        try:
            answer = await asyncio.wait_for(
                asyncio.to_thread(
                    scoring_server.invocations,
                    body,
                    content_type,
                    loaded.model,
                    loaded.input_schema,
                ),
                timeout,
            )
        except MlflowException as error:
            status, code = error.get_http_status_code(), error.error_code
            return _error(status, code, _message(error), loaded.version)
        except TimeoutError:
            message = (
                f"the prediction took longer than {timeout:g} s "
                "(MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT)"
            )
            return _error(504, "DEADLINE_EXCEEDED", message, loaded.version)
        if answer.status != 200:  # a content type MLflow does not take: plain text from MLflow
            code = _CODES.get(answer.status, "BAD_REQUEST")
            return _error(answer.status, code, answer.response, loaded.version)
        return Response(
            answer.response,
            media_type="application/json",
            headers={VERSION_HEADER: loaded.version},
        )

    async def ping(request: Request) -> Response:
        """Ready: a version serves. The readiness probe of Kubernetes."""
        loaded = holder.state.current
        if loaded is None:
            return _not_serving(holder)
        return _json(200, {"status": "serving", "version": loaded.version}, loaded.version)

    async def health(request: Request) -> Response:
        """The process is up, whether or not a version serves: Compose's health check and
        Kubernetes' liveness probe, so neither waits for (or restarts for) a champion."""
        return _json(200, {"status": "up"}, _version(holder))

    async def version(request: Request) -> Response:
        return _json(200, holder.describe(), _version(holder))

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        code = _CODES.get(error.status_code, "BAD_REQUEST")
        return _error(error.status_code, code, str(error.detail), _version(holder))

    async def internal_error(request: Request, error: Exception) -> Response:
        message = f"{type(error).__name__}: {' '.join(str(error).split())}"
        return _error(500, "INTERNAL_ERROR", message, _version(holder))

    return Starlette(
        routes=[
            Route("/invocations", invocations, methods=["POST"]),
            Route("/ping", ping, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/version", version, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error, Exception: internal_error},
    )


def _message(error: MlflowException) -> str:
    """MLflow's message, and the one line of what caused it where MLflow keeps that only in the
    stack trace (a model that cannot predict zero rows says so there)."""
    cause = error.__cause__ or error.__context__
    if cause is None or isinstance(cause, MlflowException) or str(cause) in error.message:
        return error.message
    return f"{error.message} ({type(cause).__name__}: {' '.join(str(cause).split())})"


def _not_serving(holder: Holder) -> Response:
    why = holder.state.waiting or "no version loaded yet"
    return _error(503, "TEMPORARILY_UNAVAILABLE", f"Not serving {holder.uri} yet: {why}", None)


def _version(holder: Holder) -> str | None:
    current = holder.state.current
    return current.version if current else None


def _error(status: int, code: str, message: str, version: str | None) -> Response:
    return _json(status, {"error_code": code, "message": message}, version)


def _json(status: int, body: dict[str, Any], version: str | None) -> Response:
    """A JSON answer with the version that gave it; before any version serves there is none to
    name, and the header is left out."""
    headers = {VERSION_HEADER: version} if version is not None else None
    return Response(
        json.dumps(body), status_code=status, media_type="application/json", headers=headers
    )
