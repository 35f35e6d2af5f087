"""An MLflow tracking server (or the embedded store) as a Dagster resource."""

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import FrameType
from urllib.parse import quote

import dagster as dg
import mlflow
from mlflow.entities import Run, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.store.artifact.s3_artifact_repo import _cached_get_s3_client
from mlflow.tracking import MlflowClient
from pydantic import Field
from requests.exceptions import RequestException

from iris_assets import embedded
from iris_assets.settings import without_credentials

_DIRECT_S3_TRANSFERS = (
    "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD",
    "MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD",
)
"""MLflow's switches for moving artifacts between client and S3 past a proxying server."""
EMBEDDED_UI_URL = "http://localhost:5000"
"""Where `iris-assets mlflow-ui` serves by default: the links' base for the embedded store."""
EMBEDDED_UI_COMMAND = "uv run iris-assets mlflow-ui"
"""The command that serves the embedded store's UI at EMBEDDED_UI_URL."""

_UNREACHABLE = ("NewConnectionError", "Connection refused", "ConnectTimeout", "Read timed out")
"""How requests says the server itself did not answer (as opposed to answering with an error)."""
_S3_REFUSALS = ("SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied")
"""S3 answers that no retry can change: keys or permissions are wrong."""
_TIMED_OUT = ("Read timed out", "ReadTimeout")
"""How requests says a request ran out of time."""


class DeadlineExceeded(BaseException):
    """The step's MLflow work ran past `deadline_seconds`. A BaseException, so that no
    `except Exception` on the way (MLflow's, urllib3's, a check's) takes it for an ordinary
    error and carries on."""


class MLflowResource(dg.ConfigurableResource):
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
            f"unset: the tracking server, or {EMBEDDED_UI_URL} (`mlflow ui`) for the embedded "
            "store."
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
    origins: dict[str, str] = Field(
        default_factory=dict,
        description="Where each field's value came from, by field (e.g. tracking_uri: "
        "'MLFLOW_TRACKING_URI from .env'), for the messages that name it.",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.run is not None and context.log is not None:
            context.log.info(f"Using {self.describe()}")

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

    def _setting(self, *fields: str) -> str:
        """The settings behind `fields`, as messages name them."""
        named = [self.origins.get(field) or field for field in fields]
        listed = " and ".join([", ".join(named[:-1]), named[-1]]) if len(named) > 1 else named[0]
        if all(field in self.origins for field in fields):
            return listed
        return f"{listed} of the mlflow resource"

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
        if not self.is_embedded:
            return None
        return EMBEDDED_UI_COMMAND

    def dagster_run_url(self, run_id: str) -> str | None:
        """The Dagster UI's page of a run, for the MLflow run's description; None where no UI
        that holds this instance's runs is known (`dagster_ui_url` unset): a guessed address may
        be another instance's UI, which says "No run found"."""
        if not self.dagster_ui_url:
            return None
        return f"{without_credentials(self.dagster_ui_url).rstrip('/')}/runs/{run_id}"

    @contextmanager
    def activated(self, task: str = "its work") -> Iterator[None]:
        """MLflow's module-level API (`log_model`, `pyfunc.load_model`) aimed at this store, for
        at most `deadline_seconds`.

        That API keeps the tracking URI, the S3 settings, HTTP limits and printing in process-wide
        state; all are set for the block only, so one materialization cannot steer the next one.
        A failure of the server or its artifact store leaves as a `dg.Failure` that names it; so
        does running past the deadline while doing `task`.
        """
        settings = {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(self.http_max_retries),
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(self.http_timeout_seconds),
            # MLflow prints run and model links with the raw tracking URI, credentials and all;
            # the materialization's metadata carries the same links without them.
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
            "MLFLOW_PRINT_MODEL_URLS_ON_CREATION": "false",
            # Artifacts go through the server. Left to itself, MLflow 3.17 asks a server that
            # proxies S3 for a presigned URL for every file and fetches it from S3 directly: at an
            # address only the server may reach (in Compose, mlflow-artifact-store:9000), with a
            # second request per file. Either variable set in the environment is respected.
            **{name: os.environ.get(name, "false") for name in _DIRECT_S3_TRANSFERS},
            # The model's requirements are named (registry.py), so MLflow need not look for a uv
            # project in the working directory, nor log that it found this one.
            "MLFLOW_UV_AUTO_DETECT": os.environ.get("MLFLOW_UV_AUTO_DETECT", "false"),
        }
        try:
            with (
                _scoped_environ({**settings, **self._s3_environ()}),
                _scoped_tracking_uri(self.resolved_tracking_uri()),
                _fresh_s3_clients(),
                _deadline(self.deadline_seconds),
            ):
                yield
        except DeadlineExceeded:
            where = self._where()
            raise dg.Failure(
                f"{where[0].upper()}{where[1:]} did not finish {task} within "
                f"{self.deadline_seconds} s: it "
                "accepts connections but does not answer, or the artifact store behind it hangs. "
                "Check the server and its store, or raise deadline_seconds of the mlflow resource.",
                allow_retries=False,
            ) from None
        except (MlflowException, RequestException, *_s3_errors()) as error:
            # Not chained: MLflow's own message may carry the URI's credentials.
            raise self._failure(error) from None

    def _where(self) -> str:
        """The store in use, as errors name it."""
        if self.is_embedded:
            return f"the embedded MLflow store {self.public_uri()}"
        return f"the MLflow tracking server at {self.public_uri()}"

    @contextmanager
    def start_run(
        self, experiment: str, run_name: str, tags: Mapping[str, str], task: str = "the run"
    ) -> Iterator[Run]:
        """An active run in `experiment` (made on first use), ended FAILED if the block raises.

        The run is taken off MLflow's stack of active runs even when the server cannot be told
        how it ended; the next materialization then finds it RUNNING and fails it.
        """
        with self.activated(task):
            experiment_id = self.experiment_id(experiment)
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

    def _failure(self, error: Exception) -> dg.Failure:
        """The error with the service and the settings to check; client errors are final."""
        text = " ".join(str(error).split()).replace(self.resolved_tracking_uri(), self.public_uri())
        if self.is_embedded:
            where = self._where()
            advice = f"check that IRIS_HOME is writable ({self._setting('tracking_uri')})"
        elif isinstance(error, _s3_errors()):
            where = f"the S3 artifact store at {self.s3_endpoint_url or 'the AWS default'}"
            advice = "check " + self._setting(
                "s3_endpoint_url", "aws_access_key_id", "aws_secret_access_key"
            )
        elif "mlflow-artifacts" in text and not any(m in text for m in _UNREACHABLE):
            where = f"the artifact store behind the MLflow server at {self.public_uri()}"
            advice = (
                "check the server's --artifacts-destination and the S3 endpoint and keys "
                "it runs with"
            )
        else:
            where = self._where()
            advice = f"check that it is running and {self._setting('tracking_uri')}"
        refused = any(code in text for code in _S3_REFUSALS)
        # MLflow retried the request http_max_retries times, each for http_timeout_seconds: a
        # retry of the step would wait as long again (the deadline bounds the step as a whole).
        timed_out = any(marker in text for marker in _TIMED_OUT)
        status = error.get_http_status_code() if isinstance(error, MlflowException) else 500
        return dg.Failure(
            description=f"{where} failed: {text} ({advice}).",
            allow_retries=not (refused or timed_out or 400 <= status < 500),
        )

    def experiment_id(self, name: str) -> str:
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

    def fail_abandoned_runs(
        self, current: Run, tag: str, value: str, abandoned: Callable[[Run], bool]
    ) -> list[Run]:
        """Mark FAILED the RUNNING runs of `current`'s experiment tagged `tag=value` (but it) that
        `abandoned` says nobody will end: a step that died mid-run never told the server."""
        client = self.client()
        running = client.search_runs(
            [current.info.experiment_id],
            filter_string=f"attributes.status = 'RUNNING' and tags.`{tag}` = '{value}'",
        )
        failed = [
            run for run in running if run.info.run_id != current.info.run_id and abandoned(run)
        ]
        for run in failed:
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
        return failed

    def alias_version(self, model_name: str, alias: str) -> int | None:
        """The version `alias` points at, or None where no version holds it."""
        holder = self.client().get_registered_model(model_name).aliases.get(alias)
        return None if holder is None else int(holder)

    def set_alias(self, model_name: str, alias: str, version: int) -> None:
        self.client().set_registered_model_alias(model_name, alias, str(version))

    def tag_version(self, model_name: str, version: int, tags: Mapping[str, object]) -> None:
        client = self.client()
        for name, value in tags.items():
            client.set_model_version_tag(model_name, str(version), name, str(value))

    def tag_run(self, run_id: str, tags: Mapping[str, object]) -> None:
        client = self.client()
        for name, value in tags.items():
            client.set_tag(run_id, name, str(value))

    def _s3_environ(self) -> dict[str, str]:
        settings = {
            "MLFLOW_S3_ENDPOINT_URL": self.s3_endpoint_url,
            "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
        }
        return {name: value for name, value in settings.items() if value}


def _s3_errors() -> tuple[type[Exception], ...]:
    """boto3's errors, once something has imported it.

    Against a server that proxies artifacts the client never talks to S3 itself; boto3 stays
    unimported, sparing its memory and import time, and no S3 error can occur.
    """
    if "boto3" not in sys.modules:
        return ()
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, Boto3Error)


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Raise DeadlineExceeded in this thread once `seconds` have passed, even inside a blocking
    read: SIGALRM interrupts it. Only the main thread can take the signal (Dagster runs steps
    there); elsewhere, and inside a block that already has a deadline, the per-request timeout
    and retries remain the bound."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getitimer(signal.ITIMER_REAL)[0]
    ):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise DeadlineExceeded

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


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
def _fresh_s3_clients() -> Iterator[None]:
    """Forget cached S3 clients and credentials on entry and exit.

    MLflow caches boto3 clients for five minutes by endpoint, and boto3's default session keeps
    the first credentials it read from the environment: either way one materialization's keys
    would serve the next one's.
    """
    _forget_s3_clients()
    try:
        yield
    finally:
        _forget_s3_clients()


def _forget_s3_clients() -> None:
    if "boto3" in sys.modules:  # else there is nothing cached to forget
        _cached_get_s3_client.cache_clear()
        sys.modules["boto3"].DEFAULT_SESSION = None


@contextmanager
def _scoped_tracking_uri(uri: str) -> Iterator[None]:
    """Point the fluent API at `uri`, then back at what the environment said before."""
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved)
