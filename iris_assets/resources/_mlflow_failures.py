"""What went wrong with the tracking server or its artifact store, in words a person can act on,
and whether a retry could mend it."""

from dataclasses import dataclass

import dagster as dg
from mlflow.exceptions import MlflowException

from iris_assets.resources._mlflow_state import s3_errors

_UNREACHABLE = ("NewConnectionError", "Connection refused", "ConnectTimeout", "Read timed out")
"""How requests says the server itself did not answer (as opposed to answering with an error)."""
_S3_REFUSALS = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied")
"""S3 answers that no retry can change: keys or permissions are wrong."""
_TIMED_OUT = ("Read timed out", "ReadTimeout")
"""How requests says a request ran out of time."""


@dataclass(frozen=True)
class Store:
    """The store a failure happened at, as messages name it (never with credentials)."""

    where: str
    """`the MLflow tracking server at http://…` or `the embedded MLflow store sqlite:///…`."""
    tracking_uri: str
    public_uri: str
    embedded: bool
    s3_endpoint_url: str | None
    tracking_setting: str
    """The setting that chose the store: `MLFLOW_TRACKING_URI from .env`."""
    s3_settings: str
    """The settings of the client's own S3 access."""


def failure(error: Exception, store: Store) -> dg.Failure:
    """The error with the service and the settings to check; client errors are final."""
    text = " ".join(str(error).split()).replace(store.tracking_uri, store.public_uri)
    if store.embedded:
        where = store.where
        advice = f"check that IRIS_HOME is writable ({store.tracking_setting})"
    elif isinstance(error, s3_errors()):
        where = f"the S3 artifact store at {store.s3_endpoint_url or 'the AWS default'}"
        advice = f"check {store.s3_settings}"
    elif "mlflow-artifacts" in text and not any(m in text for m in _UNREACHABLE):
        where = f"the artifact store behind the MLflow server at {store.public_uri}"
        advice = (
            "check the server's --artifacts-destination and the S3 endpoint and keys it runs with"
        )
    else:
        where = store.where
        advice = f"check that it is running and {store.tracking_setting}"
    refused = any(code in text for code in _S3_REFUSALS)
    # MLflow retried the request http_max_retries times, each for http_timeout_seconds: a retry of
    # the step would wait as long again (the deadline bounds the step as a whole).
    timed_out = any(marker in text for marker in _TIMED_OUT)
    status = error.get_http_status_code() if isinstance(error, MlflowException) else 500
    return dg.Failure(
        description=f"{where} failed: {text} ({advice}).",
        allow_retries=not (refused or timed_out or 400 <= status < 500),
    )
