"""An MLflow tracking server (or the embedded store) as a Dagster resource."""

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from urllib.parse import quote

import dagster as dg
import mlflow
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient
from pydantic import Field

from iris_assets import embedded


class MLflowResource(dg.ConfigurableResource):
    """Where runs and models go: a tracking server (and its S3 store) or the embedded store."""

    tracking_uri: str | None = Field(
        default=None,
        description="MLFLOW_TRACKING_URI; unset: the sqlite store under IRIS_HOME.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3 endpoint for artifacts (MLFLOW_S3_ENDPOINT_URL)."
    )
    aws_access_key_id: str | None = Field(default=None, description="S3 key (AWS_ACCESS_KEY_ID).")
    aws_secret_access_key: str | None = Field(
        default=None, description="S3 secret (AWS_SECRET_ACCESS_KEY)."
    )

    @property
    def is_embedded(self) -> bool:
        return not self.tracking_uri

    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or embedded.tracking_uri()

    def describe(self) -> str:
        """One line naming the tracking store in use and how it was chosen."""
        if self.is_embedded:
            return f"embedded MLflow store {self.resolved_tracking_uri()}"
        return f"MLflow tracking server {self.resolved_tracking_uri()} (MLFLOW_TRACKING_URI)"

    def client(self) -> MlflowClient:
        uri = self.resolved_tracking_uri()
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def ui_url(self, fragment: str) -> str | None:
        """A link into the tracking server's UI, or None when the store is not a server."""
        uri = self.resolved_tracking_uri()
        if not uri.startswith(("http://", "https://")):
            return None
        return f"{uri.rstrip('/')}/#/{fragment}"

    @contextmanager
    def activated(self) -> Iterator[None]:
        """MLflow's module-level API (`log_model`, `pyfunc.load_model`) aimed at this store.

        That API keeps the tracking URI and the S3 settings in process-wide state; both are set
        for the block only, so one materialization cannot steer the next one.
        """
        with (
            _scoped_environ(self._s3_environ()),
            _scoped_tracking_uri(self.resolved_tracking_uri()),
        ):
            yield

    @contextmanager
    def start_run(self, experiment: str, run_name: str, tags: Mapping[str, str]) -> Iterator[Run]:
        """An active run in `experiment` (made on first use), ended FAILED if the block raises."""
        experiment_id = self._experiment_id(experiment)
        with (
            self.activated(),
            mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags)),
        ):
            active = mlflow.active_run()
            assert active is not None
            yield active

    def _experiment_id(self, name: str) -> str:
        """The experiment's id, creating it on first use (racing creators are fine)."""
        client = self.client()
        existing = client.get_experiment_by_name(name)
        if existing is not None:
            return existing.experiment_id
        location = None
        if self.is_embedded:
            location = (embedded.artifact_root() / quote(name, safe="")).as_uri()
        try:
            return client.create_experiment(name, artifact_location=location)
        except MlflowException as error:
            if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
                raise
            raced = client.get_experiment_by_name(name)
            assert raced is not None
            return raced.experiment_id

    def _s3_environ(self) -> dict[str, str]:
        settings = {
            "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint_url,
            "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
        }
        return {name: value for name, value in settings.items() if value}


@contextmanager
def _scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
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
def _scoped_tracking_uri(uri: str) -> Iterator[None]:
    """Point the fluent API at `uri`, then back at what the environment said before."""
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved)
