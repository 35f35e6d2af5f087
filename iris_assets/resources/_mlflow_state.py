"""MLflow's process-wide state, set for one block and put back after it.

MLflow's module-level API (`log_model`, `pyfunc.load_model`) reads the tracking URI, S3 settings,
HTTP limits and printing switches from the environment and from caches; one materialization must
not steer the next one.
"""

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import mlflow

# Private: MLflow caches a boto3 client per endpoint for five minutes and offers no public way to
# forget it; test_registry's private-API test fails loudly if an upgrade moves it.
from mlflow.store.artifact.s3_artifact_repo import _cached_get_s3_client


@contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def scoped_tracking_uri(uri: str) -> Iterator[None]:
    """Point the fluent API at `uri`, then back at what the environment said before."""
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved)


@contextmanager
def fresh_s3_clients() -> Iterator[None]:
    """Forget cached S3 clients and credentials on entry and exit: MLflow's client cache and
    boto3's default session would otherwise serve one materialization's keys to the next."""
    _forget_s3_clients()
    try:
        yield
    finally:
        _forget_s3_clients()


def _forget_s3_clients() -> None:
    if "boto3" in sys.modules:  # else there is nothing cached to forget
        _cached_get_s3_client.cache_clear()
        sys.modules["boto3"].DEFAULT_SESSION = None


def s3_errors() -> tuple[type[Exception], ...]:
    """boto3's errors, once something has imported it.

    Against a server that proxies artifacts the client never talks to S3 itself; boto3 stays
    unimported, sparing its memory and import time, and no S3 error can occur.
    """
    if "boto3" not in sys.modules:
        return ()
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, Boto3Error)
