"""One process: the routes under uvicorn (one worker, in this process) and the thread that
follows the alias beside them."""

import logging
import os
import signal
from types import FrameType

from iris_assets.serving.store import registry_client, tracking_store

_log = logging.getLogger("iris_assets")

_MLFLOW_DEFAULTS = {
    # Model files come through the tracking server, which proxies the artifact store, rather than
    # from S3 by presigned URL: a server that reaches only the tracking server (the host against
    # the Compose stack, a pod outside the store's network) loads them too.
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD": "false",
    # A registry that does not answer is said within about a minute, not after MLflow's seven
    # retries with growing back-off.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    # A progress bar per download is noise in a server's log.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}
"""MLflow settings of this process where the environment sets none."""


def serve(model_name: str, alias: str, host: str, port: int, poll: float) -> None:
    """Serve `models:/<model_name>@<alias>` on http://host:port until SIGTERM or SIGINT,
    following the alias every `poll` seconds."""
    import mlflow
    import uvicorn
    from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT

    from iris_assets.serving.app import build_app
    from iris_assets.serving.follower import Follower
    from iris_assets.serving.state import Holder

    store = tracking_store()
    _log.info("Using %s", store.name)
    for name, value in _MLFLOW_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # Its INFO "No artifacts found to download" would repeat at every look while the alias points
    # at a version whose files are gone; the failure is said once, by the follower.
    logging.getLogger("mlflow.store.artifact.artifact_repo").setLevel(logging.WARNING)
    mlflow.set_tracking_uri(store.uri)
    mlflow.set_registry_uri(store.uri)

    holder = Holder(model_name, alias, waiting=f"looking up the alias in {store.name}")
    address = f"http://{host}:{port}"
    follower = Follower(holder, store, registry_client(store), poll, address)
    app = build_app(holder, MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.get())
    # No access log: a line per request is most of a busy server's work and of its log.
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, lifespan="off"
    )
    _log.info(
        "Answering on %s (POST /invocations; GET /ping, /health, /version), following %s every "
        "%g s",
        address,
        holder.uri,
        poll,
    )
    # uvicorn stops gracefully on SIGTERM or SIGINT, then raises the signal again at the handler
    # it found: this one ends the process with 0, as `docker compose stop` expects.
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    follower.start()
    try:
        uvicorn.Server(config).run()
    finally:
        follower.stop()
        _log.info("Stopped")


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)
