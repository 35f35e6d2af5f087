"""Every setting the project reads from the environment: its name, its default, and where a
process's value came from.

Sources, the first that sets a variable wins:
1. the process environment (the shell's exports; what Compose or Kubernetes set);
2. `.env` in the working directory;
3. the default: for the services, the embedded ones under IRIS_HOME.

Every entry point resolves through `apply()`: the code location as it loads (the `dagster` and
`dg` commands, `dagster dev`, code servers, run workers) and each `iris-assets` command. Dagster's
CLI reads `.env` into the environment by itself, over exported values (dagster._cli.utils
`_inject_local_env_file`); `apply()` puts an exported value back where `.env` replaced it, and
fills in from `.env` what Dagster did not, so that every command sees the same values.
"""

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

ENV_FILE = ".env"


@dataclass(frozen=True)
class Setting:
    """One environment variable the project reads."""

    name: str
    meaning: str
    default: str
    secret: bool = False


DATABASE_URL = Setting(
    "IRIS_DATABASE_URL",
    "libpq URL of the database that holds iris_data",
    "the embedded PostgreSQL under IRIS_HOME",
)
PREDICTIONS_DATABASE_URL = Setting(
    "IRIS_PREDICTIONS_DATABASE_URL",
    "libpq URL of the database that receives iris_prediction (a user that may write there)",
    "the database of iris_data (IRIS_DATABASE_URL)",
)
TRACKING_URI = Setting(
    "MLFLOW_TRACKING_URI",
    "MLflow tracking and registry server",
    "the embedded MLflow store under IRIS_HOME",
)
S3_ENDPOINT_URL = Setting(
    "MLFLOW_S3_ENDPOINT_URL",
    "S3 endpoint for artifacts the client writes itself, and for asset values in S3",
    "what MLflow and boto find on their own",
)
AWS_ACCESS_KEY_ID = Setting("AWS_ACCESS_KEY_ID", "S3 key", "boto's own lookup", secret=True)
AWS_SECRET_ACCESS_KEY = Setting(
    "AWS_SECRET_ACCESS_KEY", "S3 secret", "boto's own lookup", secret=True
)
IRIS_HOME = Setting(
    "IRIS_HOME",
    "where local state lives: embedded PostgreSQL, MLflow store, the local Dagster instance",
    ".iris in the working directory",
)
IO_S3_URI = Setting(
    "IRIS_IO_S3_URI",
    "s3://<bucket>/<prefix> where the assets keep the values they hand each other",
    "the Dagster instance's directory",
)
DAGSTER_HOME = Setting(
    "DAGSTER_HOME",
    "the Dagster instance (its dagster.yaml)",
    "the dagster.yaml of the working directory: the instance under IRIS_HOME/dagster",
)
MLFLOW_UI_URL = Setting(
    "IRIS_MLFLOW_UI_URL",
    "where people open the MLflow UI, for links on materializations",
    "the tracking server; for the embedded store `iris-assets mlflow-ui` on localhost:5000",
)
DAGSTER_UI_URL = Setting(
    "IRIS_DAGSTER_UI_URL",
    "where people open the Dagster UI that holds this instance's runs, for links from MLflow",
    "no link: the MLflow run names the Dagster run and its instance",
)
RETRAIN_MIN_NEW_ROWS = Setting(
    "IRIS_RETRAIN_MIN_NEW_ROWS",
    "new iris_data rows that make the sensor retrain",
    "a whole training window: iris_df's default limit",
)
CODE_VERSION = Setting(
    "IRIS_CODE_VERSION",
    "the code version tagged on MLflow runs where there is no git checkout",
    "the git commit, else unknown",
)

SETTINGS = (
    DATABASE_URL,
    PREDICTIONS_DATABASE_URL,
    TRACKING_URI,
    S3_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY,
    IRIS_HOME,
    IO_S3_URI,
    DAGSTER_HOME,
    MLFLOW_UI_URL,
    DAGSTER_UI_URL,
    RETRAIN_MIN_NEW_ROWS,
    CODE_VERSION,
)


class Source(Enum):
    ENVIRONMENT = "the environment"
    ENV_FILE = ENV_FILE
    DEFAULT = "unset"


@dataclass(frozen=True)
class Resolved:
    """A setting's value in this process and where it came from."""

    setting: Setting
    value: str | None
    source: Source

    @property
    def origin(self) -> str:
        """As messages name it: `IRIS_DATABASE_URL from .env`, `IRIS_HOME unset`."""
        if self.source is Source.DEFAULT:
            return f"{self.setting.name} unset"
        return f"{self.setting.name} from {self.source.value}"

    def shown(self) -> str:
        """The value as logs and `iris-assets doctor` may show it: no password, no secret."""
        if self.value is None:
            return f"unset: {self.setting.default}"
        if self.setting.secret:
            return "set (not shown)"
        return without_credentials(self.value)


def resolve(
    environ: Mapping[str, str] | None = None,
    startup_environ: Mapping[str, str] | None = None,
    env_file: Path | None = None,
) -> dict[str, Resolved]:
    """Each setting's value and source, by name.

    `environ` is the environment now (default: this process's), `startup_environ` the one the
    process started with, before Dagster's CLI loaded `.env` into it (default: Linux's record of
    it, /proc/self/environ), `env_file` the `.env` (default: the working directory's).
    """
    environ = os.environ if environ is None else environ
    startup = _startup_environ() if startup_environ is None else startup_environ
    file_values = _read_env_file(Path(ENV_FILE) if env_file is None else env_file)
    resolved = {}
    for setting in SETTINGS:
        name = setting.name
        current, from_file, at_start = environ.get(name), file_values.get(name), startup.get(name)
        if at_start and current == from_file and at_start != from_file:
            # Dagster's CLI put .env's value over an exported one: the export wins.
            resolved[name] = Resolved(setting, at_start, Source.ENVIRONMENT)
        elif current and current == from_file:
            # Also what processes that `dagster dev` starts see: it hands them .env's values
            # as their environment.
            resolved[name] = Resolved(setting, current, Source.ENV_FILE)
        elif current:
            resolved[name] = Resolved(setting, current, Source.ENVIRONMENT)
        elif from_file:
            resolved[name] = Resolved(setting, from_file, Source.ENV_FILE)
        else:
            resolved[name] = Resolved(setting, None, Source.DEFAULT)
    return resolved


def apply() -> dict[str, Resolved]:
    """Resolve, and leave the environment as resolved: the code and the libraries it calls (boto,
    MLflow, `dg.EnvVar`) read the same values the start-up line names."""
    resolved = resolve()
    for name, setting in resolved.items():
        if setting.value is not None and os.environ.get(name) != setting.value:
            os.environ[name] = setting.value
    return resolved


def iris_home() -> Path:
    """Where local state lives: `$IRIS_HOME` as resolved, or `.iris/` in the working directory.

    Resolved here too, not read from the environment: the Dagster CLI opens its instance, whose
    storage lives here (iris_assets.local_instance), before the code location applies the order.
    """
    return Path(resolve()[IRIS_HOME.name].value or ".iris").absolute()


def retrain_min_new_rows() -> int | None:
    """IRIS_RETRAIN_MIN_NEW_ROWS as a number; None when unset (the sensor's own default)."""
    resolved = resolve()[RETRAIN_MIN_NEW_ROWS.name]
    if resolved.value is None:
        return None
    try:
        return int(resolved.value)
    except ValueError:
        raise ValueError(
            f"{resolved.origin} is {resolved.value!r}: it must be a whole number of new rows, "
            "e.g. 100"
        ) from None


def without_credentials(uri: str) -> str:
    """`uri` without user password, so it can go into logs, links and errors.

    libpq also takes a password in the query (`?password=...`) or as a keyword (`host=...
    password=...`, a form with no scheme): each loses it and keeps the rest.
    """
    parts = urlsplit(uri)
    if not parts.scheme:
        return _KEYWORD_PASSWORD.sub("", uri).strip()
    if _QUERY_PASSWORD.search(parts.query):
        parts = parts._replace(query=_QUERY_PASSWORD.sub("", parts.query).strip("&"))
        uri = parts.geturl()
    if parts.password is None and parts.username is None:
        return uri
    user = f"{parts.username}@" if parts.username and parts.scheme.startswith("postgres") else ""
    return parts._replace(netloc=user + parts.netloc.rpartition("@")[2]).geturl()


_KEYWORD_PASSWORD = re.compile(r"\s*\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S*)", re.IGNORECASE)
"""`password=...` in a libpq keyword/value string, quoted or not."""
_QUERY_PASSWORD = re.compile(r"(?:^|&)password=[^&]*", re.IGNORECASE)
"""`password=...` among a URL's query parameters."""


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    return {name: value for name, value in dotenv_values(path).items() if value}


def _startup_environ() -> dict[str, str]:
    """The environment the process was started with, before anything in it (Dagster's CLI loading
    `.env`) changed `os.environ`: Linux keeps it apart in /proc. Elsewhere there is no such
    record, and a value Dagster took from .env counts as .env's."""
    try:
        block = Path("/proc/self/environ").read_bytes()
    except OSError:
        return dict(os.environ)
    pairs = (entry.partition(b"=") for entry in block.split(b"\0") if b"=" in entry)
    return {
        name.decode(errors="replace"): value.decode(errors="replace") for name, _, value in pairs
    }
