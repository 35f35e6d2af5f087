"""`iris-assets serve`: MLflow's own model server on the version an alias points at, following it.

    iris-assets serve [--model-name sk_model] [--alias champion] [--host 127.0.0.1] [--port 5002]
    python -m iris_assets.serving ...     # the same, without the CLI's other commands (Compose)

`mlflow models serve -m models:/<name>@<alias>` resolves the alias once, at start. This runs it
on the version the alias points at (waiting while no version holds it) and looks at the alias
every `poll` seconds: when it moved, the server is restarted on the new version. The old one
answers until the new one is ready to start; a request in the few seconds between gets no answer.
"""

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from iris_assets import settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

_log = logging.getLogger("iris_assets")

_STOP_SECONDS = 30
"""How long a model server may take to stop before it is killed."""


class _Stop(Exception):
    """SIGTERM or SIGINT: stop the server and leave."""


def serve(model_name: str, alias: str, host: str, port: int, poll: float) -> None:
    """Serve `models:/<model_name>@<alias>` over HTTP until stopped, following the alias."""
    # MLflow is imported here, not with the module: the CLI's other commands need none of it.
    from mlflow.tracking import MlflowClient

    tracking_uri, store = tracking_store()
    _log.info("Using %s", store)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    uri = f"models:/{model_name}@{alias}"
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    server: subprocess.Popen[bytes] | None = None
    served: str | None = None
    said: str | None = None
    try:
        while True:
            version, why_not = _alias_version(client, store, model_name, alias)
            if why_not is not None and why_not != said:
                # Said when it changes, not every poll: the reason stays until someone acts.
                _log.warning("Not serving %s yet: %s", uri, why_not)
            said = why_not
            if version is not None and version != served:
                if server is not None:
                    _log.info("%s moved from version %s to %s: restarting", uri, served, version)
                    _stop(server)
                server = _start(tracking_uri, model_name, version, host, port)
                served = version
                _log.info("Serving %s (version %s) on http://%s:%d", uri, version, host, port)
            elif server is not None and server.poll() is not None:
                raise SystemExit(
                    f"the model server of version {served} exited ({server.returncode})"
                )
            time.sleep(poll)
    except _Stop:
        _log.info("Stopping")
    finally:
        if server is not None:
            _stop(server)


def tracking_store() -> tuple[str, str]:
    """The tracking URI `serve` reads the registry from, as the graph resolves it (an unset
    MLFLOW_TRACKING_URI is the embedded store under IRIS_HOME), and how to name it."""
    from iris_assets import embedded

    resolved = settings.resolve()[settings.TRACKING_URI.name]
    if resolved.value is None:
        return embedded.tracking_uri(), (
            f"the embedded MLflow store {embedded.tracking_uri()} ({resolved.origin})"
        )
    public = settings.without_credentials(resolved.value)
    return resolved.value, f"the MLflow tracking server {public} ({resolved.origin})"


def _alias_version(
    client: "MlflowClient", store: str, model_name: str, alias: str
) -> tuple[str | None, str | None]:
    """The version the alias points at, or why there is none: no such model, no version holding
    the alias, or a store that does not answer. Each reason names the store it looked in."""
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException

    try:
        model = client.get_registered_model(model_name)
    except MlflowException as error:
        if error.get_http_status_code() != 404 and "RESOURCE_DOES_NOT_EXIST" not in str(error):
            return None, f"cannot read the registry of {store}: {_one_line(error)}"
        known = sorted(m.name for m in client.search_registered_models(max_results=20))
        listed = ", ".join(known) if known else "none yet; a run of the graph registers one"
        return None, (
            f"{store} has no registered model named {model_name!r} (models there: {listed}); "
            "check --model-name"
        )
    except (RequestException, OSError) as error:
        return None, f"cannot reach {store}: {_one_line(error)}"
    version = model.aliases.get(alias)
    if version is None:
        return None, (
            f"no version of {model_name!r} in {store} holds the alias {alias!r} yet; "
            "a run of the graph moves it to a version that proves itself"
        )
    return str(version), None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _start(
    tracking_uri: str, model_name: str, version: str, host: str, port: int
) -> subprocess.Popen[bytes]:
    """`mlflow models serve` on one version, in a process group of its own: it runs uvicorn as a
    child, which `_stop` must reach too."""
    # MLflow starts uvicorn by name: it must find this environment's, activated or not.
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "MLFLOW_TRACKING_URI": tracking_uri,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            f"models:/{model_name}/{version}",
            "--env-manager",
            "local",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=env,
        start_new_session=True,
    )


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group and wait until none of it is left.

    Signalled alone, `mlflow models serve` exits while its uvicorn goes on answering on the port,
    the old version in place of the new one.
    """
    _signal_group(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_SECONDS
    while _group_alive(server.pid) and time.monotonic() < deadline:
        server.poll()  # reap the leader, so that it does not count as alive
        time.sleep(0.1)
    if _group_alive(server.pid):
        _log.warning("The model server did not stop within %d s: killing it", _STOP_SECONDS)
        _signal_group(server.pid, signal.SIGKILL)
    server.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `iris-assets serve`, for both ways of starting it."""
    parser.add_argument("--model-name", default="sk_model", help="Default sk_model.")
    parser.add_argument("--alias", default="champion", help="Default champion.")
    parser.add_argument("--host", default="127.0.0.1", help="Default 127.0.0.1.")
    parser.add_argument("--port", type=int, default=5002, help="Default 5002.")
    parser.add_argument(
        "--poll", type=float, default=30.0, help="Seconds between looks at the alias (default 30)."
    )


def run(args: argparse.Namespace) -> None:
    serve(args.model_name, args.alias, args.host, args.port, args.poll)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings.apply()
    parser = argparse.ArgumentParser(prog="python -m iris_assets.serving", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args())
