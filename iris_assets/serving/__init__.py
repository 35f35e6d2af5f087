"""`iris-assets serve`: one long-lived process that serves the version an MLflow alias points at
and follows the alias, swapping versions in place.

    iris-assets serve [--model-name sk_model] [--alias champion] [--host 127.0.0.1] [--port 5002]
    python -m iris_assets.serving ...     # the same, without the CLI's other commands (Compose)

It speaks MLflow's scoring protocol (`POST /invocations`, `GET /ping`) with MLflow's own parsing
and prediction, plus `GET /health` (the process is up) and `GET /version` (what serves, what
failed). A thread looks at the alias every `--poll` seconds; a new version is loaded beside the
one serving and proven before one reference swap hands it the next request, so a promotion drops
no request and a version that cannot load or predict never takes any.

    store.py     the registry: where it is, what the alias points at, or why nothing
    proof.py     load a version and prove it can answer
    state.py     what serves: one immutable value, replaced whole
    follower.py  the thread that follows the alias
    app.py       the HTTP routes
    server.py    wires them together under uvicorn

This module imports none of them: the CLI's other commands need neither MLflow nor uvicorn.
"""

import argparse

from iris_assets.model_names import DEFAULT_ALIAS, DEFAULT_MODEL_NAME


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `iris-assets serve`, for both ways of starting it."""
    parser.add_argument(
        "--model-name", default=DEFAULT_MODEL_NAME, help=f"Default {DEFAULT_MODEL_NAME}."
    )
    parser.add_argument("--alias", default=DEFAULT_ALIAS, help=f"Default {DEFAULT_ALIAS}.")
    parser.add_argument("--host", default="127.0.0.1", help="Default 127.0.0.1.")
    parser.add_argument("--port", type=int, default=5002, help="Default 5002.")
    parser.add_argument(
        "--poll", type=float, default=30.0, help="Seconds between looks at the alias (default 30)."
    )


def run(args: argparse.Namespace) -> None:
    from iris_assets.serving.server import serve

    serve(args.model_name, args.alias, args.host, args.port, args.poll)
