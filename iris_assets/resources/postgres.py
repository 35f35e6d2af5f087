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

from iris_assets import embedded
from iris_assets.resources import _psycopg_rows

if TYPE_CHECKING:
    import adbc_driver_manager

PSYCOPG_MAX_ROWS = 10_000
"""Reads of at most this many rows go through psycopg, longer ones through ADBC: where the two
took the same time here (~70 ms), below it ADBC's connection costs more than the rows."""


class PostgresResource(dg.ConfigurableResource):
    """PostgreSQL at `database_url`, or the embedded server under `$IRIS_HOME` when it is unset."""

    database_url: str | None = Field(
        default=None,
        description="libpq URL of the database (IRIS_DATABASE_URL); unset: embedded PostgreSQL.",
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
        """One line naming the database in use and how it was chosen."""
        if self.is_embedded:
            return f"embedded PostgreSQL under {embedded.iris_home() / 'pg'}"
        return f"PostgreSQL {self.public_url()} (IRIS_DATABASE_URL)"

    connect_timeout_seconds: int = Field(
        default=10, ge=1, description="How long to wait for the server before failing."
    )

    @contextmanager
    def connect(self) -> Iterator[psycopg.Connection]:
        """A connection in autocommit mode, closed on exit.

        Failing to connect raises `dg.Failure` naming the server and the setting to check;
        refused credentials are final, anything else may be retried by the step's RetryPolicy.
        """
        try:
            conn = psycopg.connect(
                self.conninfo(), autocommit=True, connect_timeout=self.connect_timeout_seconds
            )
        except psycopg.OperationalError as error:
            raise self._connection_failure(str(error)) from None
        with conn:
            yield conn

    @contextmanager
    def advisory_lock(self, name: str) -> Iterator[None]:
        """Hold a database-wide lock named `name`, so processes anywhere take turns."""
        with self.connect() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
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
        # Loaded only for reads that need them: ADBC and its driver take ~13 MB.
        import adbc_driver_manager

        from iris_assets.resources import _arrow_rows

        text = query.as_string()
        if params:
            text %= tuple(sql.Literal(value).as_string() for value in params)
        conninfo = make_conninfo(self.conninfo(), connect_timeout=self.connect_timeout_seconds)
        try:
            return _arrow_rows.read_frame(conninfo, text, expected_rows, index)
        except adbc_driver_manager.Error as error:
            raise self._read_failure(error) from None

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
        setting = "the embedded server under IRIS_HOME" if self.is_embedded else "IRIS_DATABASE_URL"
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


# The server's own words in an ADBC error: "... ERROR:  relation "x" does not exist\nLINE 1: ..."
_SERVER_MESSAGE = re.compile(r"ERROR:\s+(.+)")
_CREDENTIALS_REFUSED = ("authentication failed", "no pg_hba.conf entry", "does not exist")
