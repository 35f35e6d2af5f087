"""Access to the PostgreSQL database that holds `iris_data`."""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import dagster as dg
import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field

from iris_assets import embedded, settings
from iris_assets.resources import _psycopg_rows
from iris_assets.resources._service import ServiceResource

if TYPE_CHECKING:
    import adbc_driver_manager

PSYCOPG_MAX_ROWS = 10_000
"""Reads of at most this many rows go through psycopg, longer ones through ADBC: where the two
took the same time here (docs/performance.md), below it ADBC's connection costs more than the
rows."""
_SERVER_MESSAGE = re.compile(r"ERROR:\s+(.+)")
"""The server's own words in an ADBC error, as in `... ERROR:  relation "x" does not exist`."""
_CREDENTIALS_REFUSED = ("authentication failed", "no pg_hba.conf entry", "does not exist")
"""How libpq says the server refused the user or password, or knows no such user or database."""


class PostgresResource(ServiceResource):
    """PostgreSQL at `database_url`, or the embedded server under `$IRIS_HOME` when it is unset."""

    database_url: str | None = Field(
        default=None,
        description="libpq URL of the database; unset: the embedded PostgreSQL.",
    )
    connect_timeout_seconds: int = Field(
        default=10, ge=1, description="How long to wait for the server before failing."
    )
    lock_timeout_seconds: int = Field(
        default=30,
        ge=1,
        description="How long a statement may wait for a lock another session holds on a table "
        "(a migration, VACUUM FULL, an open LOCK TABLE) before failing.",
    )
    statement_timeout_seconds: int = Field(
        default=300, ge=1, description="How long one statement may run before failing."
    )
    advisory_lock_timeout_seconds: int = Field(
        default=180,
        ge=1,
        description="How long to wait for a lock another run holds to take turns (moving the "
        "champion alias); longer than the MLflow resource's deadline, which bounds the holder.",
    )

    @property
    def is_embedded(self) -> bool:
        return not self.database_url

    def conninfo(self) -> str:
        """The connection string, starting the embedded server if that is the one in use."""
        return self.database_url or embedded.database_url()

    def public_url(self) -> str:
        """The database's address without its password: safe for logs, tags and the UI."""
        params = conninfo_to_dict(self.conninfo())
        user = params.get("user", "")
        host = str(params.get("host", ""))
        port = params.get("port")
        address = f"{user}@" if user else ""
        if host and not host.startswith("/"):
            address += f"{host}:{port}" if port else host
        url = f"postgresql://{address}/{params.get('dbname', '')}"
        return f"{url}?host={host}" if host.startswith("/") else url

    def describe(self) -> str:
        """The database in use, the embedded one or the one at `database_url`, and where that
        setting came from."""
        where = (
            f"embedded PostgreSQL under {settings.iris_home() / 'pg'}"
            if self.is_embedded
            else f"PostgreSQL {self.public_url()}"
        )
        origin = self.origins.get("database_url")
        return f"{where} ({origin})" if origin else where

    def setting(self) -> str:
        """The setting that chose this database, as messages name it."""
        return self.origins.get("database_url") or "database_url of the postgres resource"

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection in autocommit mode whose statements wait at most `lock_timeout_seconds`
        for a lock and run at most `statement_timeout_seconds`; closed on exit.

        Failing to connect raises `dg.Failure` naming the server and the setting to check;
        refused credentials are final, anything else may be retried by the step's RetryPolicy.
        A statement that ran out of time raises a final `dg.Failure` that names the setting and,
        for a lock, the sessions holding one.
        """
        try:
            conn = psycopg.connect(self._bounded_conninfo(), autocommit=True)
        except psycopg.OperationalError as error:
            raise self._connection_failure(str(error)) from None
        with conn:
            try:
                yield conn
            except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as error:
                raise self._timeout_failure(error) from None
            except psycopg.OperationalError as error:
                # The server went away mid-statement (a restart, a failover): worth a retry.
                raise dg.Failure(
                    f"Lost the connection to PostgreSQL at {self.public_url()}: "
                    f"{' '.join(str(error).split())}",
                    allow_retries=True,
                ) from None

    @contextmanager
    def advisory_lock(self, name: str) -> Iterator[None]:
        """Hold a database-wide lock named `name`, so processes anywhere take turns; wait for it
        at most `advisory_lock_timeout_seconds`."""
        with self.connect() as conn:
            timeout = f"{self.advisory_lock_timeout_seconds}s"
            conn.execute("SELECT set_config('lock_timeout', %s, false)", (timeout,))
            try:
                conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
            except psycopg.errors.LockNotAvailable:
                raise dg.Failure(
                    f"Waited {self.advisory_lock_timeout_seconds} s for the lock {name!r} in "
                    f"PostgreSQL at {self.public_url()}, which another session holds"
                    f"{self._holders(advisory=True)}. Raise advisory_lock_timeout_seconds of the "
                    "postgres resource if that session is expected to take longer.",
                    allow_retries=False,
                ) from None
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))

    def read_frame(
        self,
        query: sql.Composable,
        params: Sequence[Any] = (),
        expected_rows: int | None = None,
        index: str | None = None,
    ) -> pd.DataFrame:
        """Rows of a query as a DataFrame, one numpy column each; the column `index` is the index.

        `expected_rows` is the query's LIMIT. Up to `PSYCOPG_MAX_ROWS` (`_psycopg_rows`), psycopg
        reads them with `params` bound by the server. Longer or open-ended reads go as Arrow
        batches over binary COPY (`_arrow_rows`), with columns sized once by `expected_rows`.
        COPY takes no server-side parameters, so psycopg merges each of `params` into the query
        as a quoted literal: a value stays data, never SQL. Either way server errors raise
        psycopg's class for their SQLSTATE; failing to connect, a `dg.Failure` as in `connect`.
        """
        if expected_rows is not None and expected_rows <= PSYCOPG_MAX_ROWS:
            with self.connect() as conn:
                return _psycopg_rows.read_frame(conn, query, params, index)
        # Loaded only for reads that need them: ADBC's driver adds to every process that loads it.
        import adbc_driver_manager

        from iris_assets.resources import _arrow_rows

        text = query.as_string()
        if params:
            text %= tuple(sql.Literal(value).as_string() for value in params)
        try:
            return _arrow_rows.read_frame(self._bounded_conninfo(), text, expected_rows, index)
        except adbc_driver_manager.Error as error:
            failure = self._read_failure(error)
            if isinstance(failure, psycopg.errors.LockNotAvailable | psycopg.errors.QueryCanceled):
                raise self._timeout_failure(failure) from None
            raise failure from None

    def _bounded_conninfo(self) -> str:
        """The connection string with the connect timeout and the session's statement limits,
        added to whatever `options` the URL already gives."""
        given = str(conninfo_to_dict(self.conninfo()).get("options") or "")
        limits = (
            f"-c lock_timeout={self.lock_timeout_seconds}s "
            f"-c statement_timeout={self.statement_timeout_seconds}s"
        )
        return make_conninfo(
            self.conninfo(),
            connect_timeout=self.connect_timeout_seconds,
            options=f"{given} {limits}".strip(),
        )

    def _timeout_failure(self, error: psycopg.Error) -> dg.Failure:
        """A statement that ran out of time: which limit, what it waited for, what to do."""
        where = f"PostgreSQL at {self.public_url()}"
        if isinstance(error, psycopg.errors.LockNotAvailable):
            description = (
                f"{where} gave up after waiting {self.lock_timeout_seconds} s for a lock "
                f"({' '.join(str(error).split())}){self._holders(advisory=False)}. Wait for that "
                "session to finish, end it, or raise lock_timeout_seconds of the postgres resource."
            )
        else:
            description = (
                f"A statement on {where} ran out of time after {self.statement_timeout_seconds} s "
                f"({' '.join(str(error).split())}). Raise statement_timeout_seconds of the "
                "postgres resource, or look at what slows the server."
            )
        # Already waited its full bound: a retry would only wait as long again.
        return dg.Failure(description=description, allow_retries=False)

    def _holders(self, advisory: bool) -> str:
        """Who holds the locks a session of ours may wait for, as PostgreSQL tells: the tables'
        exclusive locks or the advisory locks of other sessions. Empty if it cannot be asked."""
        kind = "l.locktype = 'advisory'" if advisory else "l.relation IS NOT NULL"
        query = (
            "SELECT coalesce(l.relation::regclass::text, 'an advisory lock'), l.mode, a.pid, "
            "a.usename, a.application_name, a.state, "
            "extract(epoch FROM now() - coalesce(a.xact_start, a.backend_start))::int "
            "FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            f"WHERE l.granted AND {kind} AND a.pid <> pg_backend_pid() "
            "AND a.datname = current_database() "
            "AND (l.locktype = 'advisory' OR l.mode IN ('AccessExclusiveLock', 'ExclusiveLock', "
            "'ShareRowExclusiveLock', 'ShareLock')) ORDER BY a.pid LIMIT 5"
        )
        try:
            with psycopg.connect(self._bounded_conninfo(), autocommit=True) as conn:
                rows = conn.execute(query).fetchall()
        except psycopg.Error:
            return ""
        held = [
            f"{mode} on {relation} held by pid {pid} (user {user}, application "
            f"{application or 'unnamed'}, {state}, for {seconds} s)"
            for relation, mode, pid, user, application, state, seconds in rows
            if not relation.startswith("pg_")
        ]
        return f": {'; '.join(held)}" if held else ""

    def _read_failure(self, error: "adbc_driver_manager.Error") -> Exception:
        """The ADBC error as `connect` or psycopg would have raised it."""
        text = str(error)
        if "Failed to connect" in text:
            return self._connection_failure(text)
        primary = _SERVER_MESSAGE.search(text)
        message = primary.group(1) if primary else text
        try:
            return psycopg.errors.lookup(error.sqlstate or "")(message)
        except KeyError:
            return psycopg.OperationalError(message)

    def _connection_failure(self, error: str) -> dg.Failure:
        """Which server, what went wrong and what to check; refused credentials are not retried."""
        setting = (
            f"the embedded server under IRIS_HOME ({self.setting()})"
            if self.is_embedded
            else self.setting()
        )
        reason = " ".join(error.split()) or "no reason given"
        refused = any(marker in reason for marker in _CREDENTIALS_REFUSED)
        advice = (
            f"the server refused the credentials: check the user and password in {setting}"
            if refused
            else f"check that the server is running and reachable at the address in {setting}"
        )
        where = f"PostgreSQL at {self.public_url()}"
        return dg.Failure(
            description=f"Cannot connect to {where}: {reason} ({advice}).",
            allow_retries=not refused,
        )
