"""The model registry (an MLflow tracking server, or the embedded store) as a Dagster resource
whose methods are the assets' verbs: register a trained model, load a version, ask who holds an
alias, promote a version. Assets and checks reach MLflow only through it."""

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import dagster as dg
import mlflow
import pandas as pd
from mlflow.data import from_pandas
from mlflow.entities import Run, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.pyfunc import PyFuncModel, load_model
from mlflow.sklearn import log_model
from mlflow.tracking import MlflowClient
from pydantic import Field
from requests.exceptions import RequestException

from iris_assets import embedded
from iris_assets import metadata_keys as keys
from iris_assets.model_names import version_uri
from iris_assets.resources._dataset_source import PostgresQuerySource
from iris_assets.resources._deadline import DeadlineExceeded, deadline
from iris_assets.resources._mlflow_failures import Store, failure
from iris_assets.resources._mlflow_state import (
    fresh_s3_clients,
    s3_errors,
    scoped_environ,
    scoped_tracking_uri,
)
from iris_assets.resources._service import ServiceResource
from iris_assets.settings import without_credentials

EMBEDDED_UI_URL = "http://localhost:5000"
"""Where `iris-assets mlflow-ui` serves by default: the links' base for the embedded store."""
EMBEDDED_UI_COMMAND = "uv run iris-assets mlflow-ui"
"""The command that serves the embedded store's UI at EMBEDDED_UI_URL."""
_DIRECT_S3_TRANSFERS = (
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD",
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
)
"""MLflow's switches for moving artifacts between client and S3 past a proxying server."""


@dataclass(frozen=True)
class RegisteredVersion:
    """A model version the registry made, as the steps after it need to know it."""

    model_name: str
    version: int
    run_id: str
    train_acc: float
    valid_acc: float

    @property
    def uri(self) -> str:
        return version_uri(self.model_name, self.version)


@dataclass(frozen=True)
class RowsSource:
    """Where the training rows came from: a database address (never its password), table and
    query."""

    database: str
    table: str
    query: str


@dataclass(frozen=True)
class TrainingRecord:
    """Everything one training logs with its model, in the assets' words."""

    experiment: str
    model_name: str
    run_name: str
    model: Any
    """The fitted scikit-learn estimator."""
    rows: pd.DataFrame
    """The rows it learned from and was scored on: data.csv and the run's dataset."""
    source: RowsSource
    label: str
    example: pd.DataFrame
    """A few feature rows: the model's input example, and its signature's input types."""
    params: Mapping[str, Any]
    metrics: Mapping[str, float]
    texts: Mapping[str, str]
    """Further artifacts, by file name."""
    tags: Mapping[str, str]
    requirements: Sequence[str]
    dagster_run_id: str
    asset_key: str
    abandoned: Callable[[str], bool]
    """Whether an MLflow run of the same asset left RUNNING by the given Dagster run will never
    be ended: it is marked FAILED."""


@dataclass(frozen=True)
class Registration:
    """What registering made, and the abandoned runs it marked FAILED on the way."""

    version: RegisteredVersion
    experiment_id: str
    failed_runs: list[tuple[str, str]]
    """(MLflow run id, Dagster run id) of each."""


class ModelRegistry(ServiceResource):
    """Where runs and models go: a tracking server (and its S3 store) or the embedded store."""

    tracking_uri: str | None = Field(
        default=None,
        description="Tracking and registry server; unset: the embedded store under IRIS_HOME.",
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint for artifacts the client writes itself (a server that proxies "
        "artifacts needs none); unset: what MLflow and boto find on their own.",
    )
    aws_access_key_id: str | None = Field(default=None, description="S3 key for those artifacts.")
    aws_secret_access_key: str | None = Field(
        default=None, description="S3 secret for those artifacts."
    )
    ui_base_url: str | None = Field(
        default=None,
        description=(
            "Where people open the MLflow UI, for links in Dagster; "
            f"unset: the tracking server, or {EMBEDDED_UI_URL} (`iris-assets mlflow-ui`) for the "
            "embedded store."
        ),
    )
    dagster_ui_url: str | None = Field(
        default=None,
        description="Where people open the Dagster UI that holds this instance's runs, for the "
        "link back from each MLflow run; unset: no link, the run is named with its instance.",
    )
    http_max_retries: int = Field(
        default=2, ge=0, description="Retries of one HTTP request before the step fails."
    )
    http_timeout_seconds: int = Field(
        default=30, ge=1, description="How long one HTTP request to the server may take."
    )
    deadline_seconds: int = Field(
        default=120,
        ge=1,
        description="Longest a step may wait on the tracking server and the artifact store behind "
        "it, all its requests and MLflow's retries together, before it fails (a server that "
        "accepts connections and never answers).",
    )
    # --- what the assets do with models -----------------------------------------------------

    def register(self, record: TrainingRecord) -> Registration:
        """One MLflow run with the record's params, metrics, data and model; the model becomes
        a new version of `record.model_name`, tagged with its scores."""
        tags = {
            keys.MLFLOW_DAGSTER_RUN_ID: record.dagster_run_id,
            keys.MLFLOW_DAGSTER_ASSET_KEY: record.asset_key,
            **record.tags,
        }
        with (
            warnings.catch_warnings(),
            self._run(
                record.experiment,
                record.run_name,
                tags,
                "logging the run and registering the model",
            ) as run,
        ):
            # MLflow hints that integer columns cannot hold missing values; labels never miss.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            failed = self._fail_abandoned_runs(run, record)
            mlflow.log_params(dict(record.params))
            mlflow.log_metrics(dict(record.metrics))
            mlflow.log_input(_dataset(record), context="training")
            mlflow.log_text(record.rows.to_csv(), "data.csv")
            for name, text in record.texts.items():
                mlflow.log_text(text, name)
            predicted = pd.Series(record.model.predict(record.example), name=record.label)
            model_info = log_model(
                record.model,
                name=record.model_name,
                signature=infer_signature(record.example, predicted),
                input_example=record.example,
                pip_requirements=list(record.requirements),
                registered_model_name=record.model_name,
            )
            version = int(model_info.registered_model_version)
            self._tag_version(record.model_name, version, record.metrics)
        registered = RegisteredVersion(
            model_name=record.model_name,
            version=version,
            run_id=run.info.run_id,
            train_acc=record.metrics[keys.TRAIN_ACC],
            valid_acc=record.metrics[keys.VALID_ACC],
        )
        return Registration(registered, run.info.experiment_id, failed)

    def load(self, model_name: str, version: int, task: str = "loading the model") -> PyFuncModel:
        """Version `version` of `model_name`, loaded with pyfunc, within the deadline."""
        with self._activated(task):
            return load_model(version_uri(model_name, version))

    def holder(self, model_name: str, alias: str) -> int | None:
        """The version `alias` points at, or None where no version holds it."""
        with self._activated(f"reading who holds {alias}"):
            holder = self.client().get_registered_model(model_name).aliases.get(alias)
        return None if holder is None else int(holder)

    def promote(self, model_name: str, alias: str, version: int) -> None:
        """Point `alias` at `version`."""
        with self._activated(f"moving {alias}"):
            self.client().set_registered_model_alias(model_name, alias, str(version))

    def annotate(self, version: RegisteredVersion, tags: Mapping[str, object]) -> None:
        """Tag the version and the run that made it alike: what was decided about it, and why."""
        with self._activated("tagging the version and its run"):
            client = self.client()
            for name, value in tags.items():
                client.set_model_version_tag(
                    version.model_name, str(version.version), name, str(value)
                )
                client.set_tag(version.run_id, name, str(value))

    @contextmanager
    def within_deadline(self, task: str) -> Iterator[None]:
        """One deadline for several verbs together (`task` names them in the failure): a step
        that holds a lock while it talks to the registry holds it for at most that long."""
        with self._activated(task):
            yield

    # --- where it is, and where people look -------------------------------------------------

    @property
    def is_embedded(self) -> bool:
        return not self.tracking_uri

    def resolved_tracking_uri(self) -> str:
        return self.tracking_uri or embedded.tracking_uri()

    def describe(self) -> str:
        """The tracking store in use, the embedded one or `tracking_uri`, and where that setting
        came from."""
        where = (
            f"embedded MLflow store {self.resolved_tracking_uri()}"
            if self.is_embedded
            else f"MLflow tracking server {self.public_uri()}"
        )
        origin = self.origins.get("tracking_uri")
        return f"{where} ({origin})" if origin else where

    def public_uri(self) -> str:
        """The tracking URI without any credentials in it: safe for logs, links and errors."""
        return without_credentials(self.resolved_tracking_uri())

    def client(self) -> MlflowClient:
        uri = self.resolved_tracking_uri()
        return MlflowClient(tracking_uri=uri, registry_uri=uri)

    def ui_url(self, fragment: str) -> str | None:
        """A link into the MLflow UI, or None when the tracking store is no server and no UI
        address is set.

        `ui_base_url` is for where the two differ: in the Compose stack the code reaches the
        server by its service name, which only the containers resolve. The embedded store's UI
        is `iris-assets mlflow-ui` on its default address (`ui_command`).
        """
        if self.ui_base_url:
            base = without_credentials(self.ui_base_url)
        else:
            base = EMBEDDED_UI_URL if self.is_embedded else self.public_uri()
        if not base.startswith(("http://", "https://")):
            return None
        return f"{base.rstrip('/')}/#/{fragment}"

    def ui_command(self) -> str | None:
        """The command that serves the embedded store's UI at the links; None for a server."""
        return EMBEDDED_UI_COMMAND if self.is_embedded else None

    def dagster_run_url(self, run_id: str) -> str | None:
        """The Dagster UI's page of a run, for the MLflow run's description; None where no UI
        that holds this instance's runs is known (`dagster_ui_url` unset): a guessed address may
        be another instance's UI, which says "No run found"."""
        if not self.dagster_ui_url:
            return None
        return f"{without_credentials(self.dagster_ui_url).rstrip('/')}/runs/{run_id}"

    # --- MLflow's process-wide state, errors and the deadline -------------------------------

    @contextmanager
    def _activated(self, task: str) -> Iterator[None]:
        """MLflow's module-level API aimed at this store, for at most `deadline_seconds`.

        That API keeps the tracking URI, the S3 settings, HTTP limits and printing in
        process-wide state; all are set for the block only (_mlflow_state). A failure of the
        server or its artifact store leaves as a `dg.Failure` that names it; so does running past
        the deadline while doing `task`.
        """
        settings = {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.http_max_retries),
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(self.http_timeout_seconds),
            # MLflow prints run and model links with the raw tracking URI, credentials and all;
            # the materialization's metadata carries the same links without them.
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
            "MLFLOW_PRINT_MODEL_URLS_ON_CREATION": "false",
            # Artifacts go through the server. Left to itself, MLflow asks a server that proxies
            # S3 for a presigned URL for every file and fetches it from S3 directly: at an address
            # only the server may reach (in Compose, mlflow-artifact-store:9000). Either variable
            # set in the environment is respected.
            **{name: os.environ.get(name, "false") for name in _DIRECT_S3_TRANSFERS},
            # The model's requirements are named, so MLflow need not look for a uv project in
            # the working directory, nor log that it found this one.
            "MLFLOW_UV_AUTO_DETECT": os.environ.get("MLFLOW_UV_AUTO_DETECT", "false"),
        }
        try:
            with (
                scoped_environ({**settings, **self._s3_environ()}),
                scoped_tracking_uri(self.resolved_tracking_uri()),
                fresh_s3_clients(),
                deadline(self.deadline_seconds),
            ):
                yield
        except DeadlineExceeded:
            where = self._store().where
            raise dg.Failure(
                f"{where[0].upper()}{where[1:]} did not finish {task} within "
                f"{self.deadline_seconds} s: it "
                "accepts connections but does not answer, or the artifact store behind it hangs. "
                "Check the server and its store, or raise deadline_seconds of the registry "
                "resource.",
                allow_retries=False,
            ) from None
        except (MlflowException, RequestException, *s3_errors()) as error:
            # Not chained: MLflow's own message may carry the URI's credentials.
            raise failure(error, self._store()) from None

    @contextmanager
    def _run(
        self, experiment: str, run_name: str, tags: Mapping[str, str], task: str
    ) -> Iterator[Run]:
        """An active run in `experiment` (made on first use), ended FAILED if the block raises.

        The run is taken off MLflow's stack of active runs even when the server cannot be told
        how it ended; the next registration then finds it RUNNING and fails it.
        """
        with self._activated(task):
            experiment_id = self._experiment_id(experiment)
            run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags))
            try:
                yield run
            except BaseException as error:
                if isinstance(error, DeadlineExceeded):
                    # A server past the deadline gets one short try to hear the run failed.
                    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "2"
                    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
                with suppress(Exception):
                    mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
                raise
            finally:
                while mlflow.active_run() is not None:
                    mlflow.end_run()

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

    def _fail_abandoned_runs(self, current: Run, record: TrainingRecord) -> list[tuple[str, str]]:
        """Mark FAILED the RUNNING runs of the asset in `current`'s experiment (but it) that
        nobody will end: a step that died mid-run never told the server."""
        client = self.client()
        running = client.search_runs(
            [current.info.experiment_id],
            filter_string=f"attributes.status = 'RUNNING' and "
            f"tags.`{keys.MLFLOW_DAGSTER_ASSET_KEY}` = '{record.asset_key}'",
        )
        failed = []
        for run in running:
            owner = run.data.tags.get(keys.MLFLOW_DAGSTER_RUN_ID, "")
            if run.info.run_id != current.info.run_id and record.abandoned(owner):
                client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
                failed.append((run.info.run_id, owner))
        return failed

    def _tag_version(self, model_name: str, version: int, tags: Mapping[str, object]) -> None:
        client = self.client()
        for name, value in tags.items():
            client.set_model_version_tag(model_name, str(version), name, str(value))

    def _store(self) -> Store:
        embedded_store = self.is_embedded
        return Store(
            where=(
                f"the embedded MLflow store {self.public_uri()}"
                if embedded_store
                else f"the MLflow tracking server at {self.public_uri()}"
            ),
            tracking_uri=self.resolved_tracking_uri(),
            public_uri=self.public_uri(),
            embedded=embedded_store,
            s3_endpoint_url=self.s3_endpoint_url,
            tracking_setting=self._setting("tracking_uri"),
            s3_settings=self._setting(
                "s3_endpoint_url", "aws_access_key_id", "aws_secret_access_key"
            ),
        )

    def _setting(self, *fields: str) -> str:
        """The settings behind `fields`, as messages name them."""
        named = [self.origins.get(field) or field for field in fields]
        listed = " and ".join([", ".join(named[:-1]), named[-1]]) if len(named) > 1 else named[0]
        if all(field in self.origins for field in fields):
            return listed
        return f"{listed} of the registry resource"

    def _s3_environ(self) -> dict[str, str]:
        settings = {
            "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint_url,
            "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
        }
        return {name: value for name, value in settings.items() if value}


def _dataset(record: TrainingRecord) -> Any:
    """The rows as an MLflow dataset whose source names the database, table and query."""
    source = PostgresQuerySource(record.source.database, record.source.table, record.source.query)
    return from_pandas(record.rows, source=source, targets=record.label, name=record.source.table)
