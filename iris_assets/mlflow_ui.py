"""`iris-assets mlflow-ui`: the MLflow UI of the embedded store, as light as a UI can be.

`mlflow ui` on its own starts four web workers and MLflow's job runner with its own workers: a
dozen processes and gigabytes for one person looking at a local store. This serves the store under
IRIS_HOME with one worker and no job runner, on the address the links on materializations use.
"""

import argparse
import logging
import os
import sys

from iris_assets import embedded, settings

_log = logging.getLogger("iris_assets")

DEFAULT_PORT = 5000
"""Where `mlflow ui` serves by default, so the links on materializations open here."""


def command(host: str, port: int) -> list[str]:
    """The MLflow server on the embedded store: one worker; artifacts read from IRIS_HOME."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        embedded.tracking_uri(),
        "--default-artifact-root",
        embedded.artifact_root().as_uri(),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def run(args: argparse.Namespace) -> int:
    """Serve the embedded store's UI until stopped; a tracking server needs none: say where its
    UI is instead."""
    tracking = settings.resolve()[settings.TRACKING_URI.name]
    if tracking.value is not None:
        _log.info(
            "%s points at the tracking server %s: it serves its own UI there. This command "
            "serves the embedded store only.",
            tracking.origin,
            settings.without_credentials(tracking.value),
        )
        return 0
    _log.info(
        "MLflow UI of the embedded store %s (%s) on http://%s:%d (Ctrl-C stops it)",
        embedded.tracking_uri(),
        tracking.origin,
        args.host,
        args.port,
    )
    # The job runner serves MLflow's GenAI jobs, which a local store of sklearn runs never has.
    os.environ["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    # MLflow starts uvicorn by name: it must find this environment's, activated or not.
    bin_dir = os.path.dirname(sys.executable)
    os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    argv = command(args.host, args.port)
    os.execv(argv[0], argv)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="Default 127.0.0.1.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"Default {DEFAULT_PORT}.")
