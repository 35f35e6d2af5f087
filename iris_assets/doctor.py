"""`iris-assets doctor`: what this checkout would use, and whether it answers, before a run finds
out the slow way.

As `dbt debug` and `mlflow doctor` do: each setting with its source, one bounded check of each
service the settings need, where local state lives, and the versions that matter. It reads and
asks: it creates and seeds nothing (only an embedded cluster that already exists is started, as a
run would), so its answer describes the state a run will meet.

Exit code 0 when everything needed answers, 1 when something needed does not. A database that
answers without `iris_data` is a warning, not a failure: the check that gates a seeding step
(`iris-assets seed`, the Compose stack's data-seed) must pass before the table exists.
"""

import logging
import os
import platform
import re
import sqlite3
import stat
import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from iris_assets import embedded, iris_table, settings
from iris_assets.console_settings import has_console_settings
from iris_assets.settings import Resolved, Source

TIMEOUT_SECONDS = 5
"""How long one service may take to answer: a server that answers at all does so in well under a
second here; past this, a run would only wait longer."""
EMBEDDED_START_SECONDS = 15
"""How long starting the embedded PostgreSQL may take (0.2 s on this machine; pgserver's own
`pg_ctl` bound is 10 s)."""
WIDTH = 100
"""Where lines wrap: a terminal of 100 columns shows the report as printed."""
VERSIONS = ("iris-assets", "dagster", "mlflow", "scikit-learn", "psycopg", "pgserver")
"""The distributions whose versions a bug report needs; read from metadata, never imported."""
LOCAL_STATE = {
    "pg": "embedded PostgreSQL",
    "mlflow.db": "embedded MLflow store",
    "mlartifacts": "the embedded store's artifacts",
    "dagster": "local Dagster instance",
}
"""What lives under IRIS_HOME, by name."""
_COMPOSE_SERVICES = {
    settings.DATABASE_URL.name: "postgres-server",
    settings.TRACKING_URI.name: "mlflow-server",
    settings.S3_ENDPOINT_URL.name: "mlflow-artifact-store",
}
"""The Compose stack's service behind each setting of .env.example."""


class Status(Enum):
    """How a check ended, as its line starts; only FAIL makes the exit code 1."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "--"


@dataclass(frozen=True)
class Check:
    """One service's answer: what was found, which setting chose it, and what to do."""

    service: str
    status: Status
    found: str
    origin: str
    advice: str = ""

    def problem(self) -> str:
        """The line a person acts on: `IRIS_DATABASE_URL from .env: cannot connect ... — start`."""
        text = f"{self.origin}: {self.found}"
        return f"{text} — {self.advice}" if self.advice else text


@dataclass(frozen=True)
class Report:
    """Everything doctor prints, gathered before any of it is formatted."""

    resolved: Mapping[str, Resolved]
    checks: Sequence[Check]
    working_directory: Path
    home: Path
    state: Sequence[tuple[str, str]] = ()
    versions: Sequence[tuple[str, str]] = ()


def run() -> int:
    """Check, print the report, return the exit code."""
    # The report says what went wrong in its own words: no library's log lines on top of it
    # (pgserver prints the server's whole log on a failed start, botocore where it found keys).
    for library in ("pgserver", "botocore"):
        logging.getLogger(library).setLevel(logging.CRITICAL)
    report = gather(settings.resolve())
    print(format_report(report))
    return exit_code(report.checks)


def gather(resolved: Mapping[str, Resolved]) -> Report:
    """Run each check; an unexpected error becomes a failing check, never a stack trace."""
    home = settings.iris_home()
    secrets = _secrets(resolved)
    checks = [
        _guarded("PostgreSQL", resolved[settings.DATABASE_URL.name], check_database, secrets),
        _guarded("MLflow", resolved[settings.TRACKING_URI.name], check_tracking, secrets),
        _guarded(
            "S3", resolved[settings.S3_ENDPOINT_URL.name], lambda _: check_s3(resolved), secrets
        ),
        _guarded("Dagster", resolved[settings.DAGSTER_HOME.name], check_dagster, secrets),
    ]
    return Report(
        resolved=resolved,
        checks=checks,
        working_directory=Path.cwd(),
        home=home,
        state=local_state(home),
        versions=versions(),
    )


def exit_code(checks: Iterable[Check]) -> int:
    """1 when any needed service failed to answer, else 0; warnings do not fail."""
    return 1 if any(check.status is Status.FAIL for check in checks) else 0


# Formatting


def format_report(report: Report) -> str:
    """The report as aligned plain text, secrets never shown (`Resolved.shown`)."""
    env_file = report.working_directory / settings.ENV_FILE
    lines = [
        f"iris-assets doctor in {report.working_directory}",
        "",
        f"Settings: the environment wins, then {settings.ENV_FILE} in this directory "
        f"({'found' if env_file.is_file() else 'none here'}), then the default",
    ]
    lines += _columns(
        (resolved.origin, _setting_value(resolved)) for resolved in report.resolved.values()
    )
    lines += ["", f"Services, each given {TIMEOUT_SECONDS} s to answer"]
    width = max((len(check.service) for check in report.checks), default=0)
    for check in report.checks:
        lead = f"  {check.status.value:<4}  {check.service:<{width}}  "
        if check.origin:
            lines.append(lead + check.origin)
            lead = " " * len(lead)
        lines += _wrap(check.found, lead)
    home_origin = report.resolved[settings.IRIS_HOME.name].origin
    lines += ["", f"Local state in {report.home} ({home_origin})"]
    lines += _columns(report.state)
    lines += ["", "Versions"]
    lines += _columns(report.versions)
    lines += ["", *_verdict(report.checks)]
    return "\n".join(lines)


def _verdict(checks: Sequence[Check]) -> list[str]:
    """The closing lines: whether everything needed answers, then each problem and its fix."""
    failed = sum(check.status is Status.FAIL for check in checks)
    problems = [c for c in checks if c.status in (Status.FAIL, Status.WARN) and c.advice]
    if failed:
        lines = [f"{_count(failed, 'needed service')} did not answer (exit code 1):"]
    elif problems:
        lines = ["Everything needed answers (exit code 0); worth a look:"]
    else:
        return ["Everything needed answers (exit code 0)."]
    for check in problems:
        lines += _wrap(check.problem(), f"  {check.status.value:<4}  ")
    return lines


def _setting_value(resolved: Resolved) -> str:
    """`shown()`, without its "unset: " where the origin column says so already."""
    shown = resolved.shown()
    return shown.removeprefix("unset: ") if resolved.source is Source.DEFAULT else shown


def _columns(rows: Iterable[Sequence[str]]) -> list[str]:
    """Rows of cells as lines: each column as wide as its widest cell, the last one wrapped
    under itself where the line would pass WIDTH."""
    rows = [tuple(row) for row in rows]
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        lead = "  " + "".join(
            cell.ljust(width + 2) for cell, width in zip(row, widths, strict=False)
        )
        lines += _wrap(row[-1], lead)
    return lines


def _wrap(text: str, lead: str) -> list[str]:
    """`text` after `lead`, wrapped at WIDTH under its own first character; URLs and paths are
    never broken."""
    return textwrap.wrap(
        text,
        width=max(WIDTH, len(lead) + 30),
        initial_indent=lead,
        subsequent_indent=" " * len(lead),
        break_long_words=False,
        break_on_hyphens=False,
    ) or [lead.rstrip()]


# The checks


def check_database(setting: Resolved) -> Check:
    """PostgreSQL of IRIS_DATABASE_URL: connect, `SELECT 1`, and what `iris_data` holds.

    For the embedded default, a cluster that exists is started (0.2 s, bounded; pgserver stops it
    again as doctor exits, unless another process uses it), since only a server that runs can say
    whether it starts and what its table holds. One that does not exist yet is not created: that
    would take seconds and state the first run creates anyway, seeding it as it goes.
    """
    if setting.value is not None:
        return _query_database(setting.value, setting, settings.without_credentials(setting.value))
    pgdata = embedded.database_directory()
    where = f"embedded PostgreSQL under {pgdata}"
    if not (pgdata / "PG_VERSION").is_file():
        return Check(
            "PostgreSQL",
            Status.OK,
            f"{where}: not created yet: the first run creates and seeds it",
            setting.origin,
        )
    advice = (
        f"read its log {pgdata / 'log'}; if the cluster is damaged, move {pgdata} aside and the "
        "next run creates and seeds a new one"
    )
    try:
        url = _bounded(lambda: embedded.start_server(pgdata), EMBEDDED_START_SECONDS)
    except TimeoutError:
        reason = f"did not start within {EMBEDDED_START_SECONDS} s"
    except Exception as error:
        reason = f"did not start: {_one_line(error)}"
    else:
        checked = _query_database(url, setting, where)
        if checked.status is Status.FAIL:
            return Check(checked.service, checked.status, checked.found, checked.origin, advice)
        return checked
    return Check("PostgreSQL", Status.FAIL, f"the {where} {reason}", setting.origin, advice)


def _query_database(conninfo: str, setting: Resolved, where: str) -> Check:
    """Connect within TIMEOUT_SECONDS; say what the server is and what `iris_data` holds."""
    try:
        given = str(conninfo_to_dict(conninfo).get("options") or "")
        bounded = make_conninfo(
            conninfo,
            connect_timeout=TIMEOUT_SECONDS,
            options=f"{given} -c statement_timeout={TIMEOUT_SECONDS}s".strip(),
        )
        with psycopg.connect(bounded, autocommit=True) as conn:
            conn.execute("SELECT 1")
            version = conn.execute("SHOW server_version").fetchone()
            exists = conn.execute("SELECT to_regclass(%s)", (iris_table.TABLE,)).fetchone()
            rows = None
            if exists and exists[0]:
                count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(iris_table.TABLE))
                counted = conn.execute(count).fetchone()
                rows = counted[0] if counted else 0
    except psycopg.errors.QueryCanceled:
        return Check(
            "PostgreSQL",
            Status.WARN,
            f"{where} answers; counting {iris_table.TABLE} took over {TIMEOUT_SECONDS} s",
            setting.origin,
        )
    except psycopg.Error as error:
        reason = _connection_reason(str(error))
        refused = reason.startswith(("the server refused", "the server says"))
        advice = (
            f"check the user, password and database name in {setting.setting.name}; if another "
            "PostgreSQL answers on that port (the host's own), point it at the right one"
            if refused
            else _start_or_unset(setting, "the database", "the embedded PostgreSQL")
        )
        return Check(
            "PostgreSQL",
            Status.FAIL,
            f"cannot connect to {where}: {reason}",
            setting.origin,
            advice,
        )
    server = f"PostgreSQL {version[0].split()[0]}" if version else "PostgreSQL"
    if rows is None:
        return Check(
            "PostgreSQL",
            Status.WARN,
            f"{where} answers ({server}); no table {iris_table.TABLE} yet",
            setting.origin,
            "`uv run iris-assets seed` creates it and inserts the 150 iris rows",
        )
    if rows == 0:
        return Check(
            "PostgreSQL",
            Status.WARN,
            f"{where} answers ({server}); {iris_table.TABLE} holds no rows",
            setting.origin,
            "`uv run iris-assets seed` inserts the 150 iris rows",
        )
    return Check(
        "PostgreSQL",
        Status.OK,
        f"{where} answers ({server}); {iris_table.TABLE} holds {rows} rows",
        setting.origin,
    )


def check_tracking(setting: Resolved) -> Check:
    """The MLflow store of MLFLOW_TRACKING_URI: a server's `/health`, or the store's file.

    Plain HTTP, not an MLflow client: importing MLflow takes seconds, and `/health` is what the
    server offers to be asked whether it runs.
    """
    if setting.value is None:
        return _sqlite_store(embedded.tracking_store(), setting, "embedded store")
    uri = setting.value
    scheme = urlsplit(uri).scheme.split("+")[0]
    public = settings.without_credentials(uri)
    if scheme in ("http", "https"):
        return _http_health(uri, setting)
    if scheme == "sqlite":
        return _sqlite_store(Path(uri.removeprefix("sqlite:///")), setting, public)
    if scheme in ("postgresql", "postgres"):
        checked = _query_database(
            uri.replace(urlsplit(uri).scheme, "postgresql", 1), setting, public
        )
        if checked.status is Status.FAIL:
            return Check("MLflow", Status.FAIL, checked.found, setting.origin, checked.advice)
        return Check("MLflow", Status.OK, f"{public} answers", setting.origin)
    if scheme in ("", "file"):
        path = Path(urlsplit(uri).path if scheme else uri)
        found = "exists" if path.is_dir() else "does not exist yet: the first run creates it"
        return Check("MLflow", Status.OK, f"file store {path} {found}", setting.origin)
    return Check(
        "MLflow", Status.SKIP, f"{public}: doctor does not check this kind", setting.origin
    )


def _http_health(uri: str, setting: Resolved) -> Check:
    import requests

    public = settings.without_credentials(uri)
    base = uri.rstrip("/")
    try:
        health = requests.get(f"{base}/health", timeout=TIMEOUT_SECONDS)
        version = requests.get(f"{base}/version", timeout=TIMEOUT_SECONDS)
    except requests.Timeout:
        reason = f"no answer within {TIMEOUT_SECONDS} s"
    except requests.ConnectionError as error:
        reason = _connection_reason(str(error))
    else:
        if health.ok:
            server = f"MLflow {version.text.strip()}" if version.ok else "MLflow"
            return Check("MLflow", Status.OK, f"{public} answers ({server})", setting.origin)
        text = " ".join(health.text.split())[:120]
        advice = (
            "the server refuses this address in the Host header: add it to the server's "
            "--allowed-hosts"
            if "host" in text.lower()
            else "look at the tracking server's log"
        )
        return Check(
            "MLflow",
            Status.FAIL,
            f"{public}/health answered HTTP {health.status_code}: {text}",
            setting.origin,
            advice,
        )
    return Check(
        "MLflow",
        Status.FAIL,
        f"cannot reach {public}: {reason}",
        setting.origin,
        _start_or_unset(setting, "the tracking server", "the embedded MLflow store"),
    )


def _sqlite_store(path: Path, setting: Resolved, name: str) -> Check:
    """An MLflow SQLite store: there or not yet; if there, readable and how many versions."""
    where = f"{name} {path}" if name == "embedded store" else name
    if not path.is_file():
        return Check(
            "MLflow",
            Status.OK,
            f"{where}: not created yet: the first run creates it",
            setting.origin,
        )
    try:
        with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=TIMEOUT_SECONDS) as db:
            versions = db.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    except sqlite3.Error as error:
        return Check(
            "MLflow",
            Status.FAIL,
            f"{where} cannot be read as an MLflow store: {error}",
            setting.origin,
            f"move {path} aside: the next run creates a new store",
        )
    return Check(
        "MLflow", Status.OK, f"{where}: {_count(versions, 'model version')}", setting.origin
    )


def check_s3(resolved: Mapping[str, Resolved]) -> Check:
    """The S3 store, where MLFLOW_S3_ENDPOINT_URL or IRIS_IO_S3_URI is set.

    With IRIS_IO_S3_URI, `head_bucket` on its bucket, which also proves the keys; with the
    endpoint alone there is no bucket to ask about, so any HTTP answer from it will do.
    """
    endpoint = resolved[settings.S3_ENDPOINT_URL.name]
    location = resolved[settings.IO_S3_URI.name]
    if location.value is not None:
        return _head_bucket(location, endpoint)
    if endpoint.value is None:
        return Check(
            "S3",
            Status.SKIP,
            f"not used ({settings.S3_ENDPOINT_URL.name} and {settings.IO_S3_URI.name} unset)",
            "",
        )
    import requests

    public = settings.without_credentials(endpoint.value)
    try:
        answer = requests.get(endpoint.value, timeout=TIMEOUT_SECONDS)
    except requests.Timeout:
        reason = f"no answer within {TIMEOUT_SECONDS} s"
    except requests.ConnectionError as error:
        reason = _connection_reason(str(error))
    else:
        return Check(
            "S3", Status.OK, f"{public} answers (HTTP {answer.status_code})", endpoint.origin
        )
    return Check(
        "S3",
        Status.FAIL,
        f"cannot reach {public}: {reason}",
        endpoint.origin,
        _start_or_unset(endpoint, "the S3 store", None)
        + " (a tracking server that proxies artifacts needs none on the client)",
    )


def _head_bucket(location: Resolved, endpoint: Resolved) -> Check:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    parts = urlsplit(location.value or "")
    if parts.scheme != "s3" or not parts.netloc:
        return Check(
            "S3",
            Status.FAIL,
            f"{location.value!r} is no s3://<bucket>/<prefix>",
            location.origin,
            f"set {location.setting.name} to s3://<bucket>/<prefix>",
        )
    bucket = parts.netloc
    where = (
        f"bucket {bucket} at {settings.without_credentials(endpoint.value)}"
        if endpoint.value
        else f"bucket {bucket} (boto's default endpoint)"
    )
    origins = f"{location.origin}, {endpoint.origin}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint.value,
        config=Config(
            connect_timeout=TIMEOUT_SECONDS,
            read_timeout=TIMEOUT_SECONDS,
            retries={"total_max_attempts": 1},
        ),
    )
    try:
        client.head_bucket(Bucket=bucket)
    except NoCredentialsError:
        return Check(
            "S3",
            Status.FAIL,
            f"no S3 keys to reach {where}",
            origins,
            f"set {settings.AWS_ACCESS_KEY_ID.name} and {settings.AWS_SECRET_ACCESS_KEY.name}",
        )
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        missing = code in ("404", "NoSuchBucket")
        return Check(
            "S3",
            Status.FAIL,
            f"{where}: {'no such bucket' if missing else f'refused ({code})'}",
            origins,
            f"create the bucket {bucket}"
            if missing
            else f"check {settings.AWS_ACCESS_KEY_ID.name} and "
            f"{settings.AWS_SECRET_ACCESS_KEY.name} and what they may read",
        )
    except BotoCoreError as error:
        return Check(
            "S3",
            Status.FAIL,
            f"cannot reach {where}: {_connection_reason(str(error))}",
            origins,
            _start_or_unset(endpoint, "the S3 store", None),
        )
    return Check("S3", Status.OK, f"{where} answers", origins)


def check_dagster(setting: Resolved) -> Check:
    """The Dagster instance: DAGSTER_HOME's, or the local one under IRIS_HOME/dagster that the
    working directory's dagster.yaml names.

    Files only: opening the instance would import Dagster (seconds) for what the files tell. A
    PostgreSQL storage named in DAGSTER_HOME's dagster.yaml is asked as the database is.
    """
    if setting.value is not None:
        return _dagster_home(Path(setting.value), setting)
    config = Path.cwd() / "dagster.yaml"
    directory = settings.iris_home() / "dagster"
    if not config.is_file():
        return Check(
            "Dagster",
            Status.WARN,
            f"a temporary instance per command: no dagster.yaml in {Path.cwd()}",
            setting.origin,
            "run dagster from the repository root, whose dagster.yaml keeps runs under "
            "IRIS_HOME/dagster, or set DAGSTER_HOME",
        )
    if "iris_assets.local_instance" not in config.read_text(errors="replace"):
        return Check("Dagster", Status.OK, f"as {config} says", setting.origin)
    runs_db = directory / "history" / "runs.db"
    if not runs_db.is_file():
        found = "not created yet: the first run creates it"
    else:
        found = _count(_sqlite_count(runs_db, "runs"), "run")
    return Check("Dagster", Status.OK, f"local instance {directory}: {found}", setting.origin)


def _dagster_home(home: Path, setting: Resolved) -> Check:
    """DAGSTER_HOME as Dagster will find it: an absolute directory, its dagster.yaml with the
    project's console settings, and the PostgreSQL storage it may name."""
    if not home.is_absolute() or not home.is_dir():
        return Check(
            "Dagster",
            Status.FAIL,
            f"{home} is {'not an absolute path' if not home.is_absolute() else 'no directory'}: "
            "Dagster refuses to start",
            setting.origin,
            f"create it (an absolute path), or unset {setting.setting.name} to use the local "
            "instance under IRIS_HOME/dagster",
        )
    config = home / "dagster.yaml"
    import yaml

    document = yaml.safe_load(config.read_text()) if config.is_file() else None
    document = document if isinstance(document, dict) else {}
    storage = _postgres_storage(document)
    if storage is not None:
        checked = _query_database(storage, setting, "its PostgreSQL storage")
        if checked.status is Status.FAIL:
            return Check(
                "Dagster",
                Status.FAIL,
                f"instance {home}: {checked.found}",
                setting.origin,
                f"start the database {config} names, or check the variables it reads",
            )
    found = f"instance {home}" + (": its PostgreSQL storage answers" if storage else "")
    if not has_console_settings(document.get("python_logs")):
        lacking = "has no dagster.yaml" if not config.is_file() else "its dagster.yaml lacks"
        return Check(
            "Dagster",
            Status.WARN,
            f"{found}; {lacking} the project's console settings, so runs print Dagster's DEBUG "
            "events and no closing line",
            setting.origin,
            f'add the lines of README "Your own Dagster instance" to {config}',
        )
    return Check("Dagster", Status.OK, found, setting.origin)


def _postgres_storage(document: Mapping[str, Any]) -> str | None:
    """The libpq URL of the PostgreSQL storage a dagster.yaml names, its `env:` fields read from
    the environment; None when it names none."""
    postgres = (document.get("storage") or {}).get("postgres")
    if not isinstance(postgres, dict):
        return None

    def value(item: Any) -> str:
        if isinstance(item, dict) and "env" in item:
            return os.environ.get(item["env"], "")
        return "" if item is None else str(item)

    if "postgres_url" in postgres:
        return value(postgres["postgres_url"])
    db = postgres.get("postgres_db") or {}
    return make_conninfo(
        host=value(db.get("hostname")),
        port=value(db.get("port")) or "5432",
        user=value(db.get("username")),
        password=value(db.get("password")),
        dbname=value(db.get("db_name")),
    )


# Local state and versions


def local_state(home: Path) -> list[tuple[str, str]]:
    """Each piece of state under IRIS_HOME: there and how big, or not created yet."""
    return [
        (
            name,
            f"{_size(home / name)}, {meaning}"
            if (home / name).exists()
            else f"not created yet ({meaning})",
        )
        for name, meaning in LOCAL_STATE.items()
    ]


def versions() -> list[tuple[str, str]]:
    """Python's version and each distribution's, from installed metadata."""
    rows = [("Python", f"{platform.python_version()} ({platform.system()} {platform.machine()})")]
    for name in VERSIONS:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return rows


# Helpers


def _guarded(
    service: str, setting: Resolved, check: Callable[[Resolved], Check], secrets: Sequence[str]
) -> Check:
    """`check(setting)`, any unexpected error reported as its failure; no secret in its words."""
    try:
        result = check(setting)
    except Exception as error:
        result = Check(
            service,
            Status.FAIL,
            f"could not be checked: {type(error).__name__}: {_one_line(error)}",
            setting.origin,
            "please report this with doctor's whole output",
        )
    return Check(
        result.service,
        result.status,
        _scrub(result.found, secrets),
        result.origin,
        _scrub(result.advice, secrets),
    )


def _bounded(function: Callable[[], str], seconds: float) -> str:
    """`function()` in a thread, given up on after `seconds` (the thread is left to finish)."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = function()
        except Exception as error:
            outcome["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise TimeoutError
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


_REASONS = (
    ("connection refused", "connection refused"),
    ("timeout expired", f"no answer within {TIMEOUT_SECONDS} s"),
    ("timed out", f"no answer within {TIMEOUT_SECONDS} s"),
    ("could not translate host name", "unknown host"),
    ("name or service not known", "unknown host"),
    ("failed to resolve", "unknown host"),
    ("password authentication failed", "the server refused the user or password"),
    ("no pg_hba.conf entry", "the server refused the connection (pg_hba.conf)"),
)
"""How libpq, requests and botocore say what went wrong, and how doctor says it."""


def _connection_reason(message: str) -> str:
    lowered = message.lower()
    for marker, reason in _REASONS:
        if marker in lowered:
            return reason
    server_said = re.search(r"FATAL:\s+(.+)", _one_line(message))
    if server_said:
        # libpq's "connection to server at ..., port ... failed: FATAL:  role "x" does not exist":
        # the address is on the line already, the server's words are what matter.
        return f"the server says {server_said.group(1)}"
    return _one_line(message)


def _start_or_unset(setting: Resolved, service: str, embedded_service: str | None) -> str:
    """`start the database (docker compose up -d postgres-server) or unset ... to use ...`."""
    compose = _COMPOSE_SERVICES.get(setting.setting.name)
    start = f"start {service}" + (f" (docker compose up -d {compose})" if compose else "")
    if setting.source is Source.ENV_FILE:
        unset = f"remove {setting.setting.name} from {settings.ENV_FILE}"
    else:
        unset = f"unset {setting.setting.name}"
    fix = f"fix the address in {setting.setting.name}"
    if embedded_service:
        return f"{start}, {fix}, or {unset} to use {embedded_service}"
    return f"{start}, {fix}, or {unset}"


def _secrets(resolved: Mapping[str, Resolved]) -> list[str]:
    """Every password and secret key among the settings, to be scrubbed from any message."""
    found = []
    for item in resolved.values():
        if item.value is None:
            continue
        if item.setting.secret:
            found.append(item.value)
            continue
        try:
            password = urlsplit(item.value).password
        except ValueError:
            password = None
        if password:
            found.append(password)
        match = re.search(r"password\s*=\s*'?([^'\s]+)", item.value)
        if match:
            found.append(match.group(1))
    return found


def _scrub(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text[:200] or "no reason given"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _sqlite_count(path: Path, table: str) -> int:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=TIMEOUT_SECONDS) as db:
        return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _size(path: Path) -> str:
    """The bytes under `path`, as a person reads them."""
    total: float = sum(_bytes(entry) for entry in (path, *_walk(path)))
    for unit in ("B", "KB", "MB"):
        if total < 1024:
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1024
    return f"{total:.1f} GB"


def _walk(path: Path) -> Iterator[Path]:
    """Every file and folder under `path`; what cannot be read is left out."""
    for folder, folders, files in os.walk(path):
        for name in (*folders, *files):
            yield Path(folder, name)


def _bytes(path: Path) -> int:
    """A regular file's size; 0 for anything else and for a file that vanished while looked at (a
    running PostgreSQL renames and removes its temporary files all the time)."""
    try:
        status = path.lstat()
    except OSError:
        return 0
    return status.st_size if stat.S_ISREG(status.st_mode) else 0
